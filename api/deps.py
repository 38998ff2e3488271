"""Shared request dependencies (Annotated aliases, as the FastAPI docs recommend)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.coalescer import Coalescer
from api.metrics import Metrics
from api.predictor import Predictor


def loaded_predictor(request: Request) -> Predictor:
    """The model loaded at start-up; 503 while there is none."""
    predictor: Predictor | None = request.app.state.predictor
    if predictor is None:
        raise HTTPException(503, "The model is not loaded")
    return predictor


def loaded_coalescer(request: Request) -> Coalescer:
    """The loaded model's request coalescer (/predict); 503 while there is no model."""
    coalescer: Coalescer | None = request.app.state.coalescer
    if coalescer is None:
        raise HTTPException(503, "The model is not loaded")
    return coalescer


def app_metrics(request: Request) -> Metrics:
    """The app's metrics registry."""
    metrics: Metrics = request.app.state.metrics
    return metrics


PredictorDep = Annotated[Predictor, Depends(loaded_predictor)]
MetricsDep = Annotated[Metrics, Depends(app_metrics)]
