"""POST /predict and POST /predict/batch: the model's answers, in the shapes its contract gives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.body import read_json_bytes, validate
from api.deps import app_metrics, loaded_coalescer, loaded_predictor
from api.drift import DriftReference, InputCounts
from api.predictor import Predictor
from api.routers.raw import RawRoute
from api.schemas import Schemas
from contract import ModelContract


def _error_responses(error_response: type[Any]) -> dict[int | str, dict[str, Any]]:
    return {
        413: {"model": error_response, "description": "Request body over the size limit"},
        415: {"model": error_response, "description": "Content-Type is not application/json"},
        422: {
            "model": error_response,
            "description": "A field is missing, extra or not a finite number",
        },
        503: {"model": error_response, "description": "The model is not loaded"},
    }


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _a(word: str) -> str:
    return "An" if word[:1].lower() in "aeiou" else "A"


def row_reader(features: Sequence[str]) -> Callable[[dict[str, float]], tuple[float, ...]]:
    """The features of a validated row as a tuple in the model's order, read by C code
    (operator.itemgetter), not by a Python loop over the names."""
    read = itemgetter(*features)
    if len(features) == 1:
        return lambda row: (read(row),)
    return read


def _request_body(schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    # The body is parsed by hand (api/body.py), so its schema is declared here for OpenAPI.
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "examples": examples}},
        }
    }


def build_router(model: ModelContract, schemas: Schemas, max_batch_rows: int) -> APIRouter:
    """The prediction routes of the model whose contract is `model`; `max_batch_rows` bounds
    /predict/batch (and its schema)."""
    router = APIRouter(tags=["prediction"], route_class=RawRoute)
    text, row_word, rows_word = model.api, model.api.row, model.api.rows
    one_row = schemas.row_adapter
    many = schemas.batch_adapter(max_batch_rows)
    read_row = row_reader(model.feature_names)
    probability_field = model.signature().probability_field
    listed = _listed(model.feature_names)
    one_expected = f"a JSON object with {listed}"
    many_expected = f"a JSON list of objects with {listed}"
    batch_schema = {
        "type": "array",
        "items": schemas.row_schema,
        "minItems": 1,
        "maxItems": max_batch_rows,
    }
    error_responses = _error_responses(schemas.error_response)
    examples = {
        c.name: {"summary": f"{_a(c.name)} {c.name} {row_word} (class {c.value})", "value": row}
        for c, row in zip(model.classes, schemas.examples.values(), strict=True)
    }
    names = list(schemas.examples)
    batch_examples = {
        f"{'two' if len(names) == 2 else len(names)} {rows_word}": {
            "summary": "One " + ", one ".join(names),
            "value": list(schemas.examples.values()),
        }
    }

    @router.post(
        "/predict",
        summary=text.predict_summary,
        description=text.predict_description,
        response_model=schemas.prediction,
        responses=error_responses,
        openapi_extra=_request_body(schemas.row_schema, examples),
    )
    async def predict(request: Request) -> Response:
        # Called, not Depends(): this is the hot path, where dependency solving is skipped.
        coalescer = loaded_coalescer(request)
        row = read_row(validate(one_row, await read_json_bytes(request, one_expected)))
        metrics = app_metrics(request)
        metrics.count_input(row)  # drift: counted later with other rows (api/metrics.py)
        # Scored together with the other rows that arrive in this loop iteration
        # (api/coalescer.py says why).
        index, probability = await coalescer.score(row)
        predictor = coalescer.predictor
        name = predictor.class_names[index]
        metrics.count_predictions(name)
        return Response(
            to_json(
                {
                    "prediction": name,
                    "label": predictor.class_labels[index],
                    probability_field: probability,
                    "model_version": predictor.artifact.model_version,
                }
            ),
            media_type="application/json",
        )

    @router.post(
        "/predict/batch",
        summary=text.batch_summary,
        description=f"Score a JSON list of {rows_word} (at most the configured limit) in one "
        "model call.\n\nResults come back in request order.",
        response_model=schemas.batch_prediction,
        responses=error_responses,
        openapi_extra=_request_body(batch_schema, batch_examples),
    )
    async def predict_batch(request: Request) -> Response:
        predictor = loaded_predictor(request)
        raw = await read_json_bytes(request, many_expected)
        metrics = app_metrics(request)
        # Parsing, scoring, counting drift and encoding thousands of rows take milliseconds:
        # do it in a worker thread so the event loop keeps answering other requests meanwhile.
        body, counts, inputs = await run_in_threadpool(
            _score_batch, predictor, many, read_row, probability_field, raw, metrics.drift
        )
        for name, count in counts.items():
            metrics.count_predictions(name, count)
        if inputs is not None:
            metrics.add_input_counts(inputs)
        return Response(body, media_type="application/json")

    return router


def _score_batch(
    predictor: Predictor,
    adapter: Any,
    read_row: Callable[[dict[str, float]], tuple[float, ...]],
    probability_field: str,
    raw: bytes,
    drift: DriftReference | None = None,
) -> tuple[bytes, dict[str, int], InputCounts | None]:
    rows: list[dict[str, float]] = validate(adapter, raw)
    features = np.array(list(map(read_row, rows)), dtype=np.float64)
    # Every row counts, with a few numpy operations over the whole array (not row by row).
    inputs = drift.count(features) if drift is not None else None
    values, probabilities = predictor.predict_many(features)
    names, labels = predictor.class_names, predictor.class_labels
    items = [
        {"prediction": names[v], "label": labels[v], probability_field: p}
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
