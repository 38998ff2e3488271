"""MLflow's scoring protocol: GET /ping, GET /version and POST /invocations.

MLflow's scoring server also answers GET /health, the same as /ping (200 once the model is
loaded; mlflow/pyfunc/scoring_server/__init__.py, `init`). This service's own /health keeps its
answer (200 `{"status":"ok"}` while the process answers): an MLflow client reads only the
status of either, and `ScoringServerClient` calls /ping, never /health
(mlflow/pyfunc/scoring_server/client.py). The protocol's parsing and encoding are
api/mlflow_codec.py; scoring is api/scoring.py, shared with the Open Inference Protocol.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api import __version__
from api.body import content_type as request_content_type
from api.body import read_body
from api.coalescer import Coalescer
from api.metrics import Metrics
from api.mlflow_codec import (
    CSV_MEDIA_TYPE,
    DATAFRAME_RECORDS,
    DATAFRAME_SPLIT,
    INPUTS,
    INSTANCES,
    JSON_MEDIA_TYPE,
    PLAIN_MEDIA_TYPE,
    MlflowError,
    encode_predictions,
    error_body,
    parse_invocation,
)
from api.protocol_schemas import MlflowError as MlflowErrorSchema
from api.protocol_schemas import MlflowPredictions
from api.routers.raw import RawRoute
from api.scoring import score
from contract import ModelContract

TAG = "MLflow scoring protocol"
# Bodies up to this size are parsed on the event loop; larger ones in a worker thread.
INLINE_BODY_BYTES = 8192
_PING = b"\n"  # what MLflow's /ping answers


def build_router() -> APIRouter:
    """GET /ping and GET /version."""
    router = APIRouter(tags=[TAG])

    @router.get(
        "/ping",
        summary="Ping",
        responses={
            200: {"content": {"text/plain": {}}, "description": "The model is loaded"},
            404: {"description": "No model is loaded"},
        },
    )
    async def ping(request: Request) -> Response:
        """200 once the model is loaded, as MLflow's scoring server answers it (the body is a
        newline); 404 while none is."""
        loaded = request.app.state.predictor is not None
        return Response(_PING, 200 if loaded else 404, media_type=PLAIN_MEDIA_TYPE)

    @router.get(
        "/version",
        summary="Version",
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def version() -> Response:
        """This service's version, as plain text (MLflow answers its own version here)."""
        return Response(__version__, media_type=PLAIN_MEDIA_TYPE)

    return router


def build_invocations_router(model: ModelContract, max_rows: int) -> APIRouter:
    """POST /invocations (a raw-body route)."""
    features = model.feature_names
    router = APIRouter(tags=[TAG], route_class=RawRoute)
    example_rows = [[example.values[name] for name in features] for example in model.examples]
    records = [dict(example.values) for example in model.examples]
    columns = {name: [row[i] for row in example_rows] for i, name in enumerate(features)}
    csv_example = ",".join(features) + "\n"
    csv_example += "".join(",".join(str(value) for value in row) + "\n" for row in example_rows)
    number = {"type": "number"}
    row = {"type": "array", "items": number}
    record_schema = {
        "type": "object",
        "properties": dict.fromkeys(features, number),
        "required": list(features),
        "additionalProperties": False,
    }
    columns_schema = {
        "type": "object",
        "properties": {name: {"type": "array", "items": number} for name in features},
        "required": list(features),
        "additionalProperties": False,
    }
    tensors = {
        "oneOf": [
            {"type": "array", "items": row},
            {"type": "array", "items": record_schema},
            columns_schema,
        ]
    }
    json_schema = {
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    DATAFRAME_SPLIT: {
                        "type": "object",
                        "properties": {
                            "columns": {"type": "array", "items": {"type": "string"}},
                            "data": {"type": "array", "items": row},
                            "index": {"type": "array"},
                        },
                        "required": ["columns", "data"],
                    },
                    "params": {"type": "object"},
                },
                "required": [DATAFRAME_SPLIT],
            },
            *(
                {
                    "type": "object",
                    "properties": {key: schema, "params": {"type": "object"}},
                    "required": [key],
                }
                for key, schema in (
                    (DATAFRAME_RECORDS, {"type": "array", "items": record_schema}),
                    (INSTANCES, tensors),
                    (INPUTS, tensors),
                )
            ),
        ]
    }
    examples = {
        DATAFRAME_SPLIT: {
            "value": {DATAFRAME_SPLIT: {"columns": list(features), "data": example_rows}}
        },
        DATAFRAME_RECORDS: {"value": {DATAFRAME_RECORDS: records}},
        f"{INSTANCES} (rows in the model's feature order)": {"value": {INSTANCES: example_rows}},
        f"{INPUTS} (columns)": {"value": {INPUTS: columns}},
    }
    request_body = {
        "requestBody": {
            "required": True,
            "content": {
                JSON_MEDIA_TYPE: {"schema": json_schema, "examples": examples},
                CSV_MEDIA_TYPE: {"schema": {"type": "string"}, "example": csv_example},
            },
        }
    }
    error: dict[str, Any] = {"model": MlflowErrorSchema}
    responses: dict[int | str, dict[str, Any]] = {
        400: {
            **error,
            "description": "Missing or extra columns, or a value that is not a finite number",
        },
        413: {**error, "description": "Request body over the size limit"},
        415: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "A content type other than application/json or text/csv (UTF-8)",
        },
    }

    @router.post(
        "/invocations",
        summary="Invocations",
        description=(
            f"Score rows of the model's features ({', '.join(features)}) sent in one of MLflow's "
            "formats: JSON with `dataframe_split`, `dataframe_records`, `instances` or `inputs`, "
            'or CSV with a header row. Answers `{"predictions": [...]}`, one class value per '
            "row, as `mlflow models serve` answers for a scikit-learn classifier."
        ),
        response_model=MlflowPredictions,
        responses=responses,
        openapi_extra=request_body,
    )
    async def invocations(request: Request) -> Response:
        state = request.app.state
        coalescer: Coalescer | None = state.coalescer
        if coalescer is None:
            return Response(
                error_body("The model is not loaded", "TEMPORARILY_UNAVAILABLE"),
                503,
                media_type=JSON_MEDIA_TYPE,
            )
        predictor = coalescer.predictor
        metrics: Metrics = state.metrics
        content_type = request_content_type(request)
        values = [c.value for c in predictor.artifact.classes]
        try:
            body = await read_body(request)
            if len(body) > INLINE_BODY_BYTES:
                rows = await run_in_threadpool(
                    parse_invocation, body, content_type, features, max_rows
                )
            else:
                rows = parse_invocation(body, content_type, features, max_rows)
            scores = await score(coalescer, metrics, rows)
        except MlflowError as exc:
            content, media_type = exc.body()
            return Response(content, exc.status, media_type=media_type)
        answer = encode_predictions([values[i] for i in scores.indexes.tolist()])
        return Response(answer, media_type=JSON_MEDIA_TYPE)

    return router
