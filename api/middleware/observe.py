"""One ASGI layer around every HTTP request: id, security headers, log line, metrics, 500s.

These jobs share one layer on purpose: each extra middleware layer costs a coroutine and a
`send` wrapper per request, and /predict is measured against a bare FastAPI app.
"""

from __future__ import annotations

import logging
from time import perf_counter

from pydantic_core import to_json
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import AccessLog
from api.metrics import Metrics
from api.middleware import request_id
from api.security import API_HEADERS, DOCS_HEADERS, DOCS_PAGES

_log = logging.getLogger(__name__)
UNMATCHED_ROUTE = "<unmatched>"


class RequestMiddleware:
    """Adds X-Request-ID and security headers, logs and measures each request.

    An exception that escapes the app is logged with the request id and answered with a
    generic JSON 500 carrying that id (never a traceback).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: AccessLog) -> None:
        """Wrap `app`; record into `metrics` and `access_log`."""
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        rid = request_id.accept_or_generate(scope["headers"])
        request_id.store(scope, rid)
        security = DOCS_HEADERS if scope["path"] in DOCS_PAGES else API_HEADERS
        rid_header = (request_id.HEADER, rid.encode("ascii"))
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers += security
                headers.append(rid_header)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            _log.exception("unhandled error", extra={"fields": {"request_id": rid}})
            if status:  # the response already started: nothing sane can be sent any more
                raise
            status = 500
            body = to_json({"detail": "Internal server error", "request_id": rid})
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            self._record(scope, rid, status, perf_counter() - start)

    def _record(self, scope: Scope, rid: str, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None)
        if template is None:
            # FastAPI records API routes only; the other answers that succeed (openapi.json,
            # static assets) are a small fixed set of paths, failures are all "unmatched".
            template = scope["path"] if status < 400 else UNMATCHED_ROUTE
        method = scope["method"]
        self.metrics.observe_request(method, template, status, seconds)
        if self.access_log.enabled:
            client = scope.get("client")
            self.access_log.write(
                method, scope["path"], template, status, seconds, rid, client[0] if client else None
            )
