"""Build the ASGI app: settings, middleware, error handlers, routers. Nothing else."""

from __future__ import annotations

from fastapi import FastAPI

from api import __version__
from api.config import Settings, get_settings
from api.errors import install_error_handlers
from api.lifespan import lifespan
from api.logs import AccessLog
from api.metrics import Metrics
from api.middleware import BodyLimitMiddleware, RequestMiddleware
from api.routers import health, metrics, model_info, predict, root
from api.routers.docs import install_docs

DESCRIPTION = """\
Tells forged banknotes from genuine ones from four statistics of a wavelet-transformed image
of the note. Open **POST /predict** ("Predict Bankbiljet"), click *Try it out*, then *Execute*.

Label convention: class 0 = genuine ("Goed bankbiljet"), class 1 = forged ("Vals bankbiljet").
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; `settings` default to the environment's (tests pass their own)."""
    settings = settings or get_settings()
    prediction = predict.build_router(settings.max_batch_rows)
    app = FastAPI(
        # The prediction routes are the app's own first routes, not an included router:
        # FastAPI matches an included router's routes twice per request, and this is the
        # hot path (the router tries routes in order, so they also come first).
        routes=list(prediction.routes),
        title="Banknote authentication API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by install_docs without a CDN
        redoc_url=None,
        # FastAPI's native OpenTelemetry stays off: the service's metrics are Prometheus
        # (/metrics), and nothing here installs an OpenTelemetry SDK. Left on, FastAPI asks the
        # OpenTelemetry API on every request whether a provider is configured, which reads
        # os.environ three times: 3.6 % of the service's samples under load (py-spy).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.metrics = Metrics(settings.prometheus_multiproc_dir)
    app.state.predictor = None
    app.state.coalescer = None
    app.state.access_log = AccessLog(settings.log_level)
    install_error_handlers(app)
    app.include_router(root.router)
    app.include_router(health.router)
    app.include_router(model_info.router)
    app.include_router(metrics.router)
    install_docs(app, app.openapi_url or "/openapi.json")
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(  # outermost: sees every answer, including 413s
        RequestMiddleware, metrics=app.state.metrics, access_log=app.state.access_log
    )
    return app
