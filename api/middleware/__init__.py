"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task and a queue per request)."""

from api.middleware.body_limit import BodyLimitMiddleware
from api.middleware.observe import RequestMiddleware

__all__ = ["BodyLimitMiddleware", "RequestMiddleware"]
