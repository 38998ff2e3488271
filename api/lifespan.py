"""Load the model once at start-up; refuse to start without a valid one."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from api.artifact import ArtifactError, load_artifact
from api.coalescer import Coalescer
from api.config import Settings
from api.drift import DriftReference
from api.logs import AccessLog
from api.metrics import Metrics
from api.predictor import Predictor
from api.shutdown import Shutdown

_log = logging.getLogger(__name__)


def load_predictor(model_dir: Path, intra_op_threads: int) -> Predictor:
    """Verify the artifact in `model_dir` and build its predictor (ArtifactError if unusable)."""
    return Predictor(load_artifact(model_dir), intra_op_threads)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the model before the first request; drop it at shutdown."""
    settings: Settings = app.state.settings
    metrics: Metrics = app.state.metrics
    try:
        predictor = load_predictor(settings.model_dir, settings.ort_intra_op_threads)
        if predictor.artifact.contract != app.state.contract:
            raise ArtifactError(
                f"{settings.model_dir}: the model's contract changed after the app was built "
                "from it (the artifact was replaced): restart to serve the new one"
            )
    except ArtifactError as exc:
        # Propagates: the server refuses to start rather than serve a half-loaded model.
        _log.error("cannot serve: %s", exc)
        raise
    app.state.predictor = predictor
    app.state.coalescer = Coalescer(predictor, settings.coalesce_max_rows)
    metrics.expect_predictions(predictor.class_names)
    if settings.drift_metrics:
        metrics.watch_inputs(
            DriftReference(predictor.artifact.metadata.feature_stats),
            predictor.artifact.contract.name,
        )
    metrics.set_model(predictor.artifact.model_version, predictor.artifact.created_at)
    _log.info(
        "model loaded",
        extra={
            "fields": {
                "model_version": predictor.artifact.model_version,
                "model_dir": str(settings.model_dir),
                "ort_intra_op_threads": settings.ort_intra_op_threads,
            }
        },
    )
    # What exists now (the app, its schemas, numpy, ONNX Runtime: ~70k objects) lives as long
    # as the process. Under load the cyclic GC's full collections walked all of it a few times
    # a second, stopping the event loop for ~50 ms each (/predict p99 under wrk: 52 ms, 8 ms
    # frozen; `make bench` prints the p99); frozen objects are skipped. Unfrozen at shutdown.
    gc.collect()
    gc.freeze()
    # From here SIGTERM first drains (api/shutdown.py); uvicorn's own handling follows.
    shutdown: Shutdown = app.state.shutdown
    shutdown.intercept_sigterm()
    try:
        yield
    finally:
        shutdown.release_sigterm()
        gc.unfreeze()
        app.state.predictor = None
        app.state.coalescer = None
        access_log: AccessLog = app.state.access_log
        access_log.flush()
        metrics.close()
