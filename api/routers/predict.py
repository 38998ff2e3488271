"""POST /predict and POST /predict/batch: the model's answers."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.body import read_json_bytes, validate
from api.deps import app_metrics, loaded_coalescer, loaded_predictor
from api.drift import DriftReference, InputCounts
from api.predictor import Predictor
from api.schemas import (
    FORGED_EXAMPLE,
    GENUINE_EXAMPLE,
    NOTE_ADAPTER,
    BatchPrediction,
    ErrorResponse,
    Note,
    Prediction,
    batch_adapter,
)

ONE_NOTE = "a JSON object with variance, skewness, curtosis and entropy"
MANY_NOTES = "a JSON list of objects with variance, skewness, curtosis and entropy"

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Request body over the size limit"},
    415: {"model": ErrorResponse, "description": "Content-Type is not application/json"},
    422: {
        "model": ErrorResponse,
        "description": "A field is missing, extra or not a finite number",
    },
    503: {"model": ErrorResponse, "description": "The model is not loaded"},
}


def _request_body(schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    # The body is parsed by hand (api/body.py), so its schema is declared here for OpenAPI.
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "examples": examples}},
        }
    }


class RawRoute(APIRoute):
    """A route whose endpoint takes the Request and returns a finished Response.

    FastAPI's per-request dependency solving and response validation are skipped: the
    endpoint validates the body and encodes the answer itself. The OpenAPI description still
    comes from the decorator (summary, response_model, openapi_extra). Error handlers apply.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The endpoint itself is the handler."""
        return self.endpoint


def build_router(max_batch_rows: int) -> APIRouter:
    """The prediction routes; `max_batch_rows` bounds /predict/batch (and its schema)."""
    router = APIRouter(tags=["prediction"], route_class=RawRoute)
    many = batch_adapter(max_batch_rows)
    note_schema = NOTE_ADAPTER.json_schema()
    batch_schema = {
        "type": "array",
        "items": note_schema,
        "minItems": 1,
        "maxItems": max_batch_rows,
    }

    @router.post(
        "/predict",
        summary="Predict Bankbiljet",
        response_model=Prediction,
        responses=ERROR_RESPONSES,
        openapi_extra=_request_body(
            note_schema,
            {
                "genuine": {"summary": "A genuine note (class 0)", "value": GENUINE_EXAMPLE},
                "forged": {"summary": "A forged note (class 1)", "value": FORGED_EXAMPLE},
            },
        ),
    )
    async def predict(request: Request) -> Response:
        """Is this banknote genuine or forged?

        Send the four statistics of the note's wavelet-transformed image (integers or
        floats). The answer has the predicted class, the original Dutch label and the
        calibrated probability that the note is forged.
        """
        # Called, not Depends(): this is the hot path, where dependency solving is skipped.
        coalescer = loaded_coalescer(request)
        note: Note = validate(NOTE_ADAPTER, await read_json_bytes(request, ONE_NOTE))
        row = (note["variance"], note["skewness"], note["curtosis"], note["entropy"])
        metrics = app_metrics(request)
        metrics.count_input(row)  # drift: counted later with other notes (api/metrics.py)
        # Scored together with the other notes that arrive in this loop iteration
        # (api/coalescer.py says why).
        value, probability = await coalescer.score(row)
        predictor = coalescer.predictor
        name = predictor.class_names[value]
        metrics.count_predictions(name)
        return Response(
            to_json(
                {
                    "prediction": name,
                    "label": predictor.class_labels[value],
                    "probability_forged": probability,
                    "model_version": predictor.artifact.model_version,
                }
            ),
            media_type="application/json",
        )

    @router.post(
        "/predict/batch",
        summary="Predict many banknotes at once",
        response_model=BatchPrediction,
        responses=ERROR_RESPONSES,
        openapi_extra=_request_body(
            batch_schema,
            {
                "two notes": {
                    "summary": "One genuine, one forged",
                    "value": [GENUINE_EXAMPLE, FORGED_EXAMPLE],
                }
            },
        ),
    )
    async def predict_batch(request: Request) -> Response:
        """Score a JSON list of notes (at most the configured limit) in one model call.

        Results come back in request order.
        """
        predictor = loaded_predictor(request)
        raw = await read_json_bytes(request, MANY_NOTES)
        metrics = app_metrics(request)
        # Parsing, scoring, counting drift and encoding thousands of rows take milliseconds:
        # do it in a worker thread so the event loop keeps answering other requests meanwhile.
        body, counts, inputs = await run_in_threadpool(
            _score_batch, predictor, many, raw, metrics.drift
        )
        for name, count in counts.items():
            metrics.count_predictions(name, count)
        if inputs is not None:
            metrics.add_input_counts(inputs)
        return Response(body, media_type="application/json")

    return router


def _score_batch(
    predictor: Predictor, adapter: Any, raw: bytes, drift: DriftReference | None = None
) -> tuple[bytes, dict[str, int], InputCounts | None]:
    notes: list[Note] = validate(adapter, raw)
    features = np.array(
        [(n["variance"], n["skewness"], n["curtosis"], n["entropy"]) for n in notes],
        dtype=np.float64,
    )
    # Every row counts, with a few numpy operations over the whole array (not row by row).
    inputs = drift.count(features) if drift is not None else None
    values, probabilities = predictor.predict_many(features)
    names, labels = predictor.class_names, predictor.class_labels
    items = [
        {"prediction": names[v], "label": labels[v], "probability_forged": p}
        for v, p in zip(values, probabilities, strict=True)
    ]
    counts = {name: values.count(i) for i, name in enumerate(names)}
    body = to_json(
        {
            "model_version": predictor.artifact.model_version,
            "count": len(items),
            "predictions": items,
        }
    )
    return body, counts, inputs
