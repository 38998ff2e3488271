"""The Open Inference Protocol v2 (REST): health, metadata and inference for the loaded model.

The protocol itself (parsing, the binary tensor data extension, encoding) is api/v2_codec.py;
scoring is api/scoring.py, shared with MLflow's protocol. Readiness follows Triton
(triton-inference-server/server src/http_server.cc, `HandleServerHealth`): 200 when ready and
400 when not, which is also what a platform's probe counts as a failure; like /ready it turns
so from SIGTERM on (api/shutdown.py), and never answers 5xx.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api import __version__
from api.body import read_body
from api.coalescer import Coalescer
from api.metrics import Metrics
from api.protocol_schemas import (
    V2Error,
    V2InferenceRequest,
    V2InferenceResponse,
    V2Live,
    V2ModelMetadata,
    V2ModelReady,
    V2Ready,
    V2ServerMetadata,
    inline_schema,
)
from api.routers.raw import RawRoute
from api.scoring import Scores, record, score, score_in_thread, score_one
from api.v2_codec import (
    BINARY_MEDIA_TYPE,
    HEADER_LENGTH,
    JSON_MEDIA_TYPE,
    InferRequest,
    ModelView,
    encode_infer,
    encode_one,
    error_body,
    example_request,
    header_length,
    parse_infer,
    server_metadata,
)
from api.v2_codec import (
    V2Error as V2Refusal,
)
from contract import ModelContract

TAG = "Open Inference Protocol v2"
# Bodies up to this size are parsed on the event loop (a one-row JSON request is ~200 bytes);
# larger ones are parsed in a worker thread, as /predict/batch parses its body.
INLINE_BODY_BYTES = 8192
_READ_HEADERS = (b"content-encoding", HEADER_LENGTH.encode())

_LIVE = b'{"live":true}'
_READY = b'{"ready":true}'
_NOT_READY = b'{"ready":false}'

_ERROR = {"model": V2Error}


def view_of(model: ModelContract) -> ModelView:
    """The protocol's view of the model whose contract is `model`."""
    return ModelView(
        name=model.name,
        n_features=len(model.features),
        class_values=tuple(c.value for c in model.classes),
    )


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status, media_type=JSON_MEDIA_TYPE)


def _refuse(exc: V2Refusal) -> Response:
    return _json(exc.body(), exc.status)


def _ready(request: Request) -> bool:
    return request.app.state.predictor is not None and not request.app.state.shutdown.begun


def _served_version(request: Request) -> str | None:
    predictor = request.app.state.predictor
    return None if predictor is None else str(predictor.artifact.model_version)


def build_router(model: ModelContract) -> APIRouter:
    """The protocol's health and metadata routes (included as a router)."""
    view = view_of(model)
    router = APIRouter(tags=[TAG])
    not_found: dict[int | str, dict[str, Any]] = {
        404: {**_ERROR, "description": "Unknown model or version"}
    }
    not_ready = "Not ready: no model loaded yet, or shutting down"

    @router.get("/v2", response_model=V2ServerMetadata, summary="Server metadata")
    async def server() -> Response:
        """The server's name, version and extensions (`binary_tensor_data`)."""
        return _json(to_json(server_metadata(model.api.title, __version__)))

    @router.get("/v2/health/live", response_model=V2Live, summary="Server live")
    async def live() -> Response:
        """200 while the process answers (as /health)."""
        return _json(_LIVE)

    @router.get(
        "/v2/health/ready",
        response_model=V2Ready,
        summary="Server ready",
        responses={400: {"model": V2Ready, "description": not_ready}},
    )
    async def ready(request: Request) -> Response:
        """200 once the model is loaded; 400 before that and from SIGTERM on (as /ready)."""
        return _json(_READY) if _ready(request) else _json(_NOT_READY, 400)

    def metadata(request: Request, name: str, version: str | None) -> Response:
        served = _served_version(request)
        if served is None:
            return _json(error_body("the model is not loaded"), 400)
        try:
            view.check(name, version, served)
        except V2Refusal as exc:
            return _refuse(exc)
        return _json(to_json(view.metadata(served)))

    def model_ready(request: Request, name: str, version: str | None) -> Response:
        served = _served_version(request)
        if served is not None:
            try:
                view.check(name, version, served)
            except V2Refusal as exc:
                return _refuse(exc)
        elif name != view.name:
            return _refuse(V2Refusal(404, f"unknown model '{name}'"))
        ready = _ready(request)
        return _json(to_json({"name": name, "ready": ready}), 200 if ready else 400)

    @router.get(
        "/v2/models/{model_name}",
        response_model=V2ModelMetadata,
        summary="Model metadata",
        responses=not_found,
    )
    async def model_metadata(request: Request, model_name: str) -> Response:
        """The model's versions, its input (FP32, [-1, features]) and outputs (`label`,
        `probabilities`)."""
        return metadata(request, model_name, None)

    @router.get(
        "/v2/models/{model_name}/versions/{model_version}",
        response_model=V2ModelMetadata,
        summary="Model metadata, one version",
        responses=not_found,
    )
    async def version_metadata(request: Request, model_name: str, model_version: str) -> Response:
        """As the model's metadata, for the version this server serves."""
        return metadata(request, model_name, model_version)

    ready_responses: dict[int | str, dict[str, Any]] = {
        **not_found,
        400: {"model": V2ModelReady, "description": not_ready},
    }

    @router.get(
        "/v2/models/{model_name}/ready",
        response_model=V2ModelReady,
        summary="Model ready",
        responses=ready_responses,
    )
    async def is_model_ready(request: Request, model_name: str) -> Response:
        """200 when the model is ready for inference; 400 when not (as /ready)."""
        return model_ready(request, model_name, None)

    @router.get(
        "/v2/models/{model_name}/versions/{model_version}/ready",
        response_model=V2ModelReady,
        summary="Model ready, one version",
        responses=ready_responses,
    )
    async def is_version_ready(request: Request, model_name: str, model_version: str) -> Response:
        """As model ready, for the version this server serves."""
        return model_ready(request, model_name, model_version)

    return router


def build_infer_router(model: ModelContract, max_rows: int) -> APIRouter:
    """POST /v2/models/{model_name}[/versions/{model_version}]/infer (raw-body routes)."""
    view = view_of(model)
    examples = [[e.values[name] for name in model.feature_names] for e in model.examples]
    router = APIRouter(tags=[TAG], route_class=RawRoute)
    request_body = {
        "requestBody": {
            "required": True,
            "content": {
                JSON_MEDIA_TYPE: {
                    "schema": inline_schema(V2InferenceRequest),
                    "examples": {
                        "JSON tensors": {
                            "summary": f"{len(examples)} rows as a nested JSON tensor",
                            "value": example_request(view, examples),
                        }
                    },
                }
            },
        },
    }
    responses: dict[int | str, dict[str, Any]] = {
        200: {
            "content": {
                BINARY_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "The outputs: JSON, or (binary tensor data extension) a JSON object "
            "followed by the binary outputs, with Inference-Header-Content-Length.",
        },
        400: {**_ERROR, "description": "Wrong input name, shape, datatype, data or byte sizes"},
        404: {**_ERROR, "description": "Unknown model or version"},
        413: {**_ERROR, "description": "Request body over the size limit"},
        415: {**_ERROR, "description": "A Content-Encoding (compressed body)"},
    }
    description = (
        f"Score rows of the model's {len(model.features)} features "
        f"({', '.join(model.feature_names)}, in this order): input `{view.input_name}`, FP32, "
        f"shape [rows, {len(model.features)}]. Answers `label` (INT64, the class value) and "
        "`probabilities` (FP32, [rows, classes], in class-value order), or the outputs named "
        "in `outputs`.\n\nThe binary tensor data extension (what tritonclient sends by "
        "default) cannot be tried here: see the protocols page of the docs."
    )

    async def infer(request: Request) -> Response:
        state = request.app.state
        coalescer: Coalescer | None = state.coalescer
        if coalescer is None:
            return _json(error_body("the model is not loaded"), 503)
        params = request.path_params
        served = coalescer.predictor.artifact.model_version
        try:
            view.check(params["model_name"], params.get("model_version"), served)
            headers = _headers(request)
            body = await read_body(request)
            length = header_length(headers.get(HEADER_LENGTH), len(body))
            metrics: Metrics = state.metrics
            if len(body) > INLINE_BODY_BYTES:
                answer, scores, inputs = await run_in_threadpool(
                    _infer_in_thread, view, served, coalescer, body, length, max_rows, metrics
                )
                record(metrics, coalescer.predictor, scores, inputs)
            else:
                parsed = parse_infer(body, length, view, max_rows)
                if parsed.row is not None:
                    index, probabilities = await score_one(coalescer, metrics, parsed.row)
                    answer = encode_one(view, served, parsed, index, probabilities)
                else:
                    scores = await score(coalescer, metrics, parsed.rows())
                    answer = encode_infer(view, served, parsed, scores)
        except V2Refusal as exc:
            return _refuse(exc)
        content, response_headers = answer
        return Response(content, headers=response_headers)

    # The raw-body endpoint reads its path parameters itself, so OpenAPI learns of them here.
    name_parameter = _path_parameter("model_name", "The model's name.", model.name)
    version_parameter = _path_parameter(
        "model_version", "The model's version (GET /v2/models/{model_name} lists it).", None
    )
    for path, summary, parameters in (
        ("/v2/models/{model_name}/infer", "Inference", [name_parameter]),
        (
            "/v2/models/{model_name}/versions/{model_version}/infer",
            "Inference, one version",
            [name_parameter, version_parameter],
        ),
    ):
        router.add_api_route(
            path,
            infer,
            methods=["POST"],
            summary=summary,
            description=description,
            response_model=V2InferenceResponse,
            responses=responses,
            openapi_extra={**request_body, "parameters": parameters},
            name=f"v2 {summary.lower()}",
        )
    return router


def _path_parameter(name: str, description: str, example: str | None) -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }
    if example is not None:
        parameter["example"] = example
    return parameter


def _infer_in_thread(
    view: ModelView,
    served: str,
    coalescer: Coalescer,
    body: bytes,
    length: int | None,
    max_rows: int,
    metrics: Metrics,
) -> tuple[tuple[bytes, dict[str, str]], Scores, Any]:
    parsed: InferRequest = parse_infer(body, length, view, max_rows)
    scores, inputs = score_in_thread(coalescer.predictor, parsed.rows(), metrics.drift)
    return encode_infer(view, served, parsed, scores), scores, inputs


def _headers(request: Request) -> dict[str, str]:
    """The request headers the protocol reads; 415 for an encoded body.

    The Content-Type is not one of them: tritonclient sends none (tritonclient/http/_client.py,
    `_post`), curl sends a form type, and what follows the JSON object is told by
    Inference-Header-Content-Length, not by the media type.
    """
    wanted: dict[str, str] = {}
    for name, value in request.scope["headers"]:
        if name in _READ_HEADERS:
            wanted[name.decode()] = value.decode("latin-1")
    encoding = wanted.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise V2Refusal(
            415, f"Content-Encoding {encoding[:40]!r} is not supported: send the body as it is"
        )
    return wanted
