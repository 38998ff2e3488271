"""The service with POST /predict written the conventional FastAPI way, for `make bench`.

    .venv/bin/python -m bench.conventional_app --port 8001 --model-dir artifacts/model

Everything is the real service (`python -m api`: settings, middleware, JSON access log,
metrics, the coalesced model call) except the one route: here FastAPI parses the body into a
pydantic model, solves the dependencies and validates and serialises the response model, as
its tutorial does. The service's own route reads the raw body with a TypeAdapter and encodes
the answer itself (api/routers/predict.py); the difference in req/s is what that departure
from the convention buys.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict

import api.__main__
import api.main
from api.coalescer import Coalescer
from api.config import Settings
from api.deps import app_metrics, loaded_coalescer
from api.metrics import Metrics
from api.schemas import build_schemas

_create_app = api.main.create_app


class NoteBody(BaseModel):
    """The banknote model's request row, as a model FastAPI validates (bench/ measures the
    banknote model)."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    variance: float
    skewness: float
    curtosis: float
    entropy: float


async def _coalescer(request: Request) -> Coalescer:
    # `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop
    # per request that the docs reserve for blocking work.
    return loaded_coalescer(request)


async def _metrics(request: Request) -> Metrics:
    return app_metrics(request)


CoalescerDep = Annotated[Coalescer, Depends(_coalescer)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service's app with its raw /predict replaced by a conventional one, in its place."""
    app = _create_app(settings)
    prediction = build_schemas(app.state.contract).prediction
    app.router.routes[:] = [
        route for route in app.router.routes if getattr(route, "path", None) != "/predict"
    ]

    @app.post("/predict", response_model=prediction, summary="Predict Bankbiljet")
    async def predict(note: NoteBody, coalescer: CoalescerDep, metrics: MetricsDep) -> Any:
        index, probability = await coalescer.score(
            (note.variance, note.skewness, note.curtosis, note.entropy)
        )
        predictor = coalescer.predictor
        name = predictor.class_names[index]
        metrics.count_predictions(name)
        return prediction(
            prediction=name,
            label=predictor.class_labels[index],
            probability_forged=probability,
            model_version=predictor.artifact.model_version,
        )

    # First, where the service's own route was: routes are matched in order.
    app.router.routes.insert(0, app.router.routes.pop())
    return app


if __name__ == "__main__":
    # `python -m api` serves "api.main:create_app"; in this process that name is this factory.
    api.main.create_app = create_app
    sys.exit(api.__main__.main())
