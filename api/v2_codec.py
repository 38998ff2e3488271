"""The Open Inference Protocol v2 over REST, parsed and encoded (no HTTP, no model here).

Sources, read for this module:
- KServe's "Open Inference Protocol" REST specification (kserve/open-inference-protocol,
  specification/protocol/inference_rest.md; its first text, kserve/kserve
  docs/predict-api/v2/required_api.md): the routes, `$inference_request` (`id`, `parameters`,
  `inputs` of `name`, `shape`, `datatype`, `data`, optional `outputs`), `$inference_response`
  (`model_name`, `model_version`, `id`, `outputs`), `$metadata_model_response`, tensor data
  "in row-major order ... in their natural multi-dimensional representation, or as a flattened
  one-dimensional representation", and errors as `{"error": "<message>"}`.
- Triton's binary tensor data extension (triton-inference-server/server,
  docs/protocol/extension_binary_data.md): binary data "in little-endian byte order, row major,
  without stride or padding" after the JSON object, in the order of the tensors in the JSON;
  `Inference-Header-Content-Length` gives the JSON object's length; `binary_data_size` on an
  input or output gives its bytes; `binary_data` on a requested output and
  `binary_data_output` on the request ask for binary outputs.
- What tritonclient.http (2.73) sends and expects (tritonclient/http/_utils.py
  `_get_inference_request`, _infer_input.py, _infer_result.py, _client.py): by default every
  input as binary (`set_data_from_numpy(binary_data=True)`) and, when no outputs are named,
  `"parameters": {"binary_data_output": true}`; no Content-Type header at all;
  `Inference-Header-Content-Length` only when binary data follows; a response is split at the
  same header's value, each binary output found by its `binary_data_size` in output order;
  any status other than 200 is an error whose JSON `error` is the message.

The model seen through the protocol is the ONNX model the service runs: one input, `FP32`,
shape [-1, number of features] (the features in the contract's order, as /model lists them),
and its two outputs: `label`, `INT64` [-1], the predicted class's value (the contract's class
values, as the ONNX label output and MLflow's /invocations give it: a number every client
decodes without string handling), and `probabilities`, `FP32` [-1, classes], every class's
probability in class-value order, the model's own float32 numbers.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired

import numpy as np
from numpy.typing import NDArray
from pydantic import (
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import from_json, to_json
from typing_extensions import TypedDict

from api.scoring import RowsError, Scores, check_rows
from contract import ONNX_INPUT, ONNX_LABEL_OUTPUT, ONNX_PROBABILITY_OUTPUT

# The extension's header (lower case: ASGI header names are).
HEADER_LENGTH = "inference-header-content-length"
EXTENSIONS = ("binary_tensor_data",)
INPUT_DATATYPE = "FP32"
# The ONNX graph's own names (contract/schema.py).
INPUT = ONNX_INPUT
LABEL = ONNX_LABEL_OUTPUT
PROBABILITIES = ONNX_PROBABILITY_OUTPUT
OUTPUTS = (LABEL, PROBABILITIES)
# Triton's platform name for a model run by ONNX Runtime (its model configuration docs).
PLATFORM = "onnxruntime_onnx"
JSON_MEDIA_TYPE = "application/json"
BINARY_MEDIA_TYPE = "application/octet-stream"

_Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Count = Annotated[int, Field(strict=True, ge=0)]
_Flat = TypeAdapter(list[_Finite])
# "$parameter = $string : $string | $number | $boolean" (the specification's Parameters).
_Parameters = dict[str, StrictBool | StrictInt | StrictFloat | StrictStr]
_Nested = TypeAdapter(list[list[_Finite]])


class _Input(TypedDict):
    name: Annotated[str, Field(strict=True)]
    shape: list[_Count]
    datatype: Annotated[str, Field(strict=True)]
    parameters: NotRequired[_Parameters]
    data: NotRequired[list[Any]]


class _Output(TypedDict):
    name: Annotated[str, Field(strict=True)]
    parameters: NotRequired[_Parameters]


class _Request(TypedDict):
    id: NotRequired[Annotated[str, Field(strict=True)]]
    parameters: NotRequired[_Parameters]
    inputs: list[_Input]
    outputs: NotRequired[list[_Output]]


_REQUEST = TypeAdapter(_Request)
# Parameters of the shared-memory extension, which a server on another host cannot honour.
_SHARED_MEMORY = ("shared_memory_region", "shared_memory_byte_size", "shared_memory_offset")


class V2Error(Exception):
    """A request the protocol refuses: `status` and the `{"error": message}` to answer."""

    def __init__(self, status: int, message: str) -> None:
        """400 for a bad request, 404 for an unknown model or version."""
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> bytes:
        """The protocol's error object."""
        return error_body(self.message)


def error_body(message: str) -> bytes:
    """`{"error": message}`, the protocol's error object for every API."""
    return to_json({"error": message})


@dataclass(frozen=True, slots=True)
class ModelView:
    """The served model as the protocol describes it (its version comes with each call: it is
    the loaded artifact's)."""

    name: str
    n_features: int
    class_values: tuple[int, ...]
    input_name: str = INPUT

    def check(self, name: str, asked: str | None, served: str) -> None:
        """Raise 404 unless `name` is this model and `asked` (when given) the `served` version."""
        if name != self.name:
            raise V2Error(404, f"unknown model '{name}': this server serves '{self.name}'")
        if asked is not None and asked != served:
            raise V2Error(
                404,
                f"unknown version '{asked}' of model '{name}': this server serves version "
                f"'{served}'",
            )

    def metadata(self, version: str) -> dict[str, Any]:
        """`$metadata_model_response`."""
        return {
            "name": self.name,
            "versions": [version],
            "platform": PLATFORM,
            "inputs": [
                {
                    "name": self.input_name,
                    "datatype": INPUT_DATATYPE,
                    "shape": [-1, self.n_features],
                }
            ],
            "outputs": [
                {"name": LABEL, "datatype": "INT64", "shape": [-1]},
                {"name": PROBABILITIES, "datatype": "FP32", "shape": [-1, len(self.class_values)]},
            ],
        }


@dataclass(frozen=True, slots=True)
class Requested:
    """One output to answer, and whether as binary data."""

    name: str
    binary: bool


@dataclass(frozen=True, slots=True)
class InferRequest:
    """A parsed inference request: its id, its rows and the outputs it wants.

    One row sent as JSON is kept as a tuple (`row`, `features` None): it goes to the coalescer
    with /predict's rows and is answered without numpy (`encode_one`), the cheapest way through.
    """

    id: str | None
    features: NDArray[np.floating[Any]] | None  # [N, features], checked (check_rows)
    outputs: tuple[Requested, ...]
    row: tuple[float, ...] | None = None

    def rows(self) -> NDArray[np.floating[Any]]:
        """Every row as an [N, features] array."""
        if self.features is not None:
            return self.features
        return np.array([self.row], dtype=np.float64)


_ALL_JSON = tuple(Requested(name, False) for name in OUTPUTS)
_ALL_BINARY = tuple(Requested(name, True) for name in OUTPUTS)


def header_length(value: str | None, body_length: int) -> int | None:
    """The JSON object's length from Inference-Header-Content-Length (None: no header)."""
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) <= body_length:
        raise V2Error(
            400,
            f"Inference-Header-Content-Length must be the length of the JSON object at the start "
            f"of the body (1 to {body_length}), got '{value[:40]}'",
        )
    return int(value)


def parse_infer(
    body: bytes, json_length: int | None, model: ModelView, max_rows: int
) -> InferRequest:
    """Read an inference request: the JSON object (the whole body, or its first `json_length`
    bytes followed by binary tensor data). Raises V2Error(400) naming what is wrong."""
    head = body if json_length is None else body[:json_length]
    try:
        request = _REQUEST.validate_python(from_json(head, allow_inf_nan=True))
    except ValueError as exc:  # broken JSON (pydantic-core) or a wrong shape (ValidationError)
        raise V2Error(400, _describe(exc)) from None
    inputs = request["inputs"]
    if len(inputs) != 1 or inputs[0]["name"] != model.input_name:
        names = [i["name"] for i in inputs]
        raise V2Error(
            400, f"expected one input named '{model.input_name}', got {len(names)}: {names}"
        )
    tensor = inputs[0]
    binary = b"" if json_length is None else body[json_length:]
    rows = _input_rows(tensor, binary, json_length is not None, model)
    outputs = _requested(request.get("parameters", {}), request)
    if isinstance(rows, tuple):
        return InferRequest(request.get("id"), None, outputs, rows)
    try:
        # JSON values were checked finite as they were read; binary ones are checked here.
        check_rows(rows, model.n_features, max_rows, finite=rows.dtype == np.float64)
    except RowsError as exc:
        raise V2Error(400, f"input '{tensor['name']}': {exc}") from None
    return InferRequest(request.get("id"), rows, outputs)


def _input_rows(
    tensor: _Input, binary: bytes, has_header: bool, model: ModelView
) -> NDArray[np.floating[Any]] | tuple[float, ...]:
    name, shape, parameters = tensor["name"], tensor["shape"], tensor.get("parameters", {})
    if tensor["datatype"] != INPUT_DATATYPE:
        raise V2Error(
            400,
            f"input '{name}' has datatype {tensor['datatype']!r}: the model takes {INPUT_DATATYPE}",
        )
    if len(shape) != 2 or shape[1] != model.n_features:
        raise V2Error(
            400,
            f"input '{name}' has shape {shape}: the model takes [rows, {model.n_features}]",
        )
    if any(key in parameters for key in _SHARED_MEMORY):
        raise V2Error(400, f"input '{name}': shared memory is not supported by this server")
    size = parameters.get("binary_data_size")
    if size is None:
        if len(binary):
            raise V2Error(
                400,
                f"{len(binary)} bytes follow the JSON object but no input has a binary_data_size",
            )
        if "data" not in tensor:
            raise V2Error(400, f"input '{name}' has neither data nor binary_data_size")
        return _json_rows(name, tensor["data"], shape)
    if "data" in tensor:
        raise V2Error(400, f"input '{name}' has both data and binary_data_size")
    if not has_header:
        raise V2Error(
            400,
            f"input '{name}' has binary_data_size but the request has no "
            "Inference-Header-Content-Length header",
        )
    expected = shape[0] * shape[1] * np.dtype(np.float32).itemsize
    if type(size) is not int or size != expected:
        raise V2Error(
            400,
            f"input '{name}': binary_data_size is {size!r}, but shape {shape} of "
            f"{INPUT_DATATYPE} takes {expected} bytes",
        )
    if len(binary) != size:
        raise V2Error(
            400,
            f"input '{name}': binary_data_size is {size}, but {len(binary)} bytes follow the "
            "JSON object",
        )
    return np.frombuffer(binary, dtype="<f4").reshape(shape[0], shape[1])


def _json_rows(
    name: str, data: list[Any], shape: list[int]
) -> NDArray[np.float64] | tuple[float, ...]:
    """The rows of a JSON tensor (finite numbers: the validators refuse anything else); one row
    as a tuple."""
    count = shape[0] * shape[1]
    try:
        if data and isinstance(data[0], list):  # the natural [rows][features] representation
            rows = _Nested.validate_python(data)
            if len(rows) != shape[0] or any(len(row) != shape[1] for row in rows):
                raise V2Error(400, f"input '{name}': data does not have shape {shape}")
            if len(rows) == 1:
                return tuple(rows[0])
            return np.array(rows, dtype=np.float64)
        flat = _Flat.validate_python(data)  # the flattened, row-major representation
    except ValidationError as exc:
        raise V2Error(400, f"input '{name}': data {_describe(exc)}") from None
    if len(flat) != count:
        raise V2Error(
            400, f"input '{name}': shape {shape} holds {count} values, data has {len(flat)}"
        )
    if shape[0] == 1:
        return tuple(flat)
    return np.array(flat, dtype=np.float64).reshape(shape[0], shape[1])


def _requested(parameters: Mapping[str, Any], request: _Request) -> tuple[Requested, ...]:
    default = parameters.get("binary_data_output", False)
    if type(default) is not bool:
        raise V2Error(400, "parameter binary_data_output must be true or false")
    asked = request.get("outputs")
    if asked is None:
        return _ALL_BINARY if default else _ALL_JSON
    chosen: list[Requested] = []
    for output in asked:
        name, options = output["name"], output.get("parameters", {})
        if name not in OUTPUTS:
            raise V2Error(400, f"unknown output '{name}': the model's outputs are {list(OUTPUTS)}")
        if name in (c.name for c in chosen):
            raise V2Error(400, f"output '{name}' is requested twice")
        if "classification" in options:
            raise V2Error(400, f"output '{name}': the classification extension is not supported")
        if any(key in options for key in _SHARED_MEMORY):
            raise V2Error(400, f"output '{name}': shared memory is not supported by this server")
        binary = options.get("binary_data", default)
        if type(binary) is not bool:
            raise V2Error(400, f"output '{name}': binary_data must be true or false")
        chosen.append(Requested(name, binary))
    return tuple(chosen)


def _describe(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg']}" if where else error["msg"]
    return f"the body is not a JSON object: {exc}"


def encode_infer(
    model: ModelView, version: str, request: InferRequest, scores: Scores
) -> tuple[bytes, dict[str, str]]:
    """The response body and the headers it needs (content type, and the JSON object's
    length when binary outputs follow it)."""
    values = np.asarray(model.class_values, dtype=np.int64)[scores.indexes]
    tensors: dict[str, tuple[str, NDArray[Any]]] = {
        LABEL: ("INT64", values),
        PROBABILITIES: ("FP32", scores.probabilities),
    }
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for wanted in request.outputs:
        datatype, array = tensors[wanted.name]
        output: dict[str, Any] = {
            "name": wanted.name,
            "datatype": datatype,
            "shape": list(array.shape),
        }
        if wanted.binary:
            raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
            output["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            output["data"] = array.reshape(-1).tolist()
        outputs.append(output)
    return _answer(model, version, request, outputs, chunks)


def encode_one(
    model: ModelView, version: str, request: InferRequest, index: int, probabilities: list[float]
) -> tuple[bytes, dict[str, str]]:
    """As encode_infer, for one row scored by the coalescer (no numpy: the cheapest path)."""
    value = model.class_values[index]
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for wanted in request.outputs:
        if wanted.name == LABEL:
            output: dict[str, Any] = {"name": LABEL, "datatype": "INT64", "shape": [1]}
            data: list[Any] = [value]
            raw = struct.pack("<q", value) if wanted.binary else b""
        else:
            output = {"name": PROBABILITIES, "datatype": "FP32", "shape": [1, len(probabilities)]}
            data = probabilities
            raw = struct.pack(f"<{len(probabilities)}f", *probabilities) if wanted.binary else b""
        if wanted.binary:
            output["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            output["data"] = data
        outputs.append(output)
    return _answer(model, version, request, outputs, chunks)


def _answer(
    model: ModelView,
    version: str,
    request: InferRequest,
    outputs: list[dict[str, Any]],
    chunks: list[bytes],
) -> tuple[bytes, dict[str, str]]:
    answer: dict[str, Any] = {"model_name": model.name, "model_version": version}
    if request.id is not None:
        answer["id"] = request.id
    answer["outputs"] = outputs
    head = to_json(answer)
    if not chunks:
        return head, _JSON_HEADERS
    return b"".join([head, *chunks]), {
        "content-type": BINARY_MEDIA_TYPE,
        HEADER_LENGTH: str(len(head)),
    }


_JSON_HEADERS = {"content-type": JSON_MEDIA_TYPE}


def server_metadata(name: str, version: str) -> dict[str, Any]:
    """`$metadata_server_response`."""
    return {"name": name, "version": version, "extensions": list(EXTENSIONS)}


def example_request(model: ModelView, rows: Sequence[Sequence[float]]) -> dict[str, Any]:
    """A JSON inference request for `rows` (the docs' example)."""
    return {
        "id": "example-1",
        "inputs": [
            {
                "name": model.input_name,
                "shape": [len(rows), model.n_features],
                "datatype": INPUT_DATATYPE,
                "data": [list(row) for row in rows],
            }
        ],
    }
