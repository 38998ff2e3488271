"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.predictor import Predictor
from api.schemas import Status
from api.shutdown import Shutdown

router = APIRouter(tags=["operations"])

_OK = b'{"status":"ok"}'
_NOT_READY = b'{"status":"not ready"}'
_SHUTTING_DOWN = b'{"status":"shutting down"}'


@router.get("/health", response_model=Status, summary="Liveness: the process answers")
async def health() -> Response:
    """Always 200 while the process can answer HTTP."""
    return Response(_OK, media_type="application/json")


@router.get(
    "/ready",
    response_model=Status,
    summary="Readiness: the model is loaded and no shutdown has begun",
    responses={503: {"model": Status, "description": "No model loaded yet, or shutting down"}},
)
async def ready(request: Request) -> Response:
    """200 with the model version once the model is loaded, 503 before that and from SIGTERM
    on (other requests are still served while the platform stops routing here)."""
    shutdown: Shutdown = request.app.state.shutdown
    if shutdown.begun:
        return Response(_SHUTTING_DOWN, 503, media_type="application/json")
    predictor: Predictor | None = request.app.state.predictor
    if predictor is None:
        return Response(_NOT_READY, 503, media_type="application/json")
    body = Status(status="ready", model_version=predictor.artifact.model_version)
    return Response(body.model_dump_json(), media_type="application/json")
