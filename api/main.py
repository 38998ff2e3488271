"""Build the ASGI app: settings, the model's schemas, middleware, error handlers, routers.

The routes and /docs are the loaded model's: the artifact's contract (its metadata.json, read
here) gives the request and response shapes before the first route is declared; the lifespan
then loads model.onnx and refuses to serve one whose contract is not the one the routes were
built for.
"""

from __future__ import annotations

from fastapi import FastAPI

from api import __version__
from api.artifact import read_contract
from api.config import Settings, get_settings
from api.errors import install_error_handlers
from api.lifespan import lifespan
from api.logs import AccessLog
from api.metrics import Metrics
from api.middleware import BodyLimitMiddleware, RequestMiddleware
from api.routers import health, metrics, mlflow, model_info, predict, root, v2
from api.routers.docs import install_docs
from api.schemas import build_schemas
from api.shutdown import Shutdown
from contract import ModelContract


def describe(model: ModelContract) -> str:
    """The app's description on /docs: the model's own words, how to try it, its labels."""
    text = model.api
    convention = ", ".join(f'class {c.value} = {c.name} ("{c.label}")' for c in model.classes)
    return (
        f'{text.description} Open **POST /predict** ("{text.predict_summary}"), click '
        f"*Try it out*, then *Execute*.\n\nLabel convention: {convention}.\n"
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; `settings` default to the environment's (tests pass their own).

    Raises ArtifactError when the model directory holds no readable contract.
    """
    settings = settings or get_settings()
    model = read_contract(settings.model_dir)
    schemas = build_schemas(model)
    rows = settings.max_batch_rows
    prediction = [
        predict.build_router(model, schemas, rows),
        # The standard protocols' prediction routes (docs/protocols.md).
        v2.build_infer_router(model, rows),
        mlflow.build_invocations_router(model, rows),
    ]
    app = FastAPI(
        # The prediction routes are the app's own first routes, not an included router:
        # FastAPI matches an included router's routes twice per request, and this is the
        # hot path (the router tries routes in order, so they also come first).
        routes=[route for router in prediction for route in router.routes],
        title=model.api.title,
        version=__version__,
        description=describe(model),
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
    app.state.contract = model
    app.state.metrics = Metrics(settings.prometheus_multiproc_dir)
    app.state.predictor = None
    app.state.coalescer = None
    app.state.access_log = AccessLog(settings.log_level)
    app.state.shutdown = Shutdown(settings.shutdown_drain_seconds)
    install_error_handlers(app)
    app.include_router(root.router)
    app.include_router(health.router)
    app.include_router(v2.build_router(model))
    app.include_router(mlflow.build_router())
    app.include_router(model_info.build_router(schemas))
    app.include_router(metrics.router)
    install_docs(app, app.openapi_url or "/openapi.json")
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(  # outermost: sees every answer, including 413s
        RequestMiddleware, metrics=app.state.metrics, access_log=app.state.access_log
    )
    return app
