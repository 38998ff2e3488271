"""The shapes of the standard protocols' requests and answers, as /docs shows them.

The routes parse and encode these bodies themselves (api/v2_codec.py, api/mlflow_codec.py); the
models here are what OpenAPI publishes, so schemathesis and Swagger UI see the protocols'
documented shapes: KServe's Open Inference Protocol REST specification and MLflow's scoring
server (the codec modules cite both).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

Parameters = dict[str, str | float | bool]


class V2Error(BaseModel):
    """Open Inference Protocol error: `{"error": message}`."""

    error: str


class V2ServerMetadata(BaseModel):
    """GET /v2: the server's name, version and protocol extensions."""

    name: str
    version: str
    extensions: list[str]


class V2Live(BaseModel):
    """GET /v2/health/live."""

    live: bool


class V2Ready(BaseModel):
    """GET /v2/health/ready."""

    ready: bool


class V2ModelReady(BaseModel):
    """GET /v2/models/{model_name}/ready."""

    name: str
    ready: bool


class V2MetadataTensor(BaseModel):
    """One input or output of the model; -1 is a dimension of any size."""

    name: str
    datatype: str
    shape: list[int]


class V2ModelMetadata(BaseModel):
    """GET /v2/models/{model_name}: the model's versions, inputs and outputs."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[V2MetadataTensor]
    outputs: list[V2MetadataTensor]


class V2RequestInput(BaseModel):
    """One input tensor: its data as JSON (flat or nested, row-major), or `binary_data_size`
    in `parameters` with the bytes after the JSON object (binary tensor data extension)."""

    model_config = ConfigDict(extra="allow")

    name: str
    shape: list[NonNegativeInt]
    datatype: str
    parameters: Parameters | None = None
    data: list[Any] | None = None


class V2RequestOutput(BaseModel):
    """One output to answer; `parameters.binary_data: true` asks for it as binary data."""

    model_config = ConfigDict(extra="allow")

    name: str
    parameters: Parameters | None = None


class V2InferenceRequest(BaseModel):
    """POST /v2/models/{model_name}/infer."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    parameters: Parameters | None = Field(
        None, description="`binary_data_output: true` asks for every output as binary data."
    )
    inputs: list[V2RequestInput]
    outputs: list[V2RequestOutput] | None = Field(
        None, description="Which outputs to answer; all of them when left out."
    )


class V2ResponseOutput(BaseModel):
    """One output tensor: `data` (flattened, row-major), or `binary_data_size` in
    `parameters` with the bytes after the JSON object."""

    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: list[int | float] | None = None


class V2InferenceResponse(BaseModel):
    """The answer of an inference request."""

    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[V2ResponseOutput]


class MlflowPredictions(BaseModel):
    """POST /invocations: one class value per row, in request order."""

    predictions: list[int]


class MlflowError(BaseModel):
    """MLflow's error object."""

    error_code: str
    message: str


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema with its definitions written in place, for a request body that a
    route declares by hand (OpenAPI resolves `#/$defs/...` against its own document)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
