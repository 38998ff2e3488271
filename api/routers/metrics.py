"""GET /metrics in Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from api.deps import MetricsDep

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(registry: MetricsDep) -> Response:
    """Requests and latency by route and status, predictions by class, input drift per feature
    (out-of-range counts, histograms at the training quantiles), model_info."""
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
