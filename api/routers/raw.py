"""The raw-body route class the prediction routes of every protocol use."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response


class RawRoute(APIRoute):
    """A route whose endpoint takes the Request and returns a finished Response.

    FastAPI's per-request dependency solving and response validation are skipped: the
    endpoint validates the body and encodes the answer itself. The OpenAPI description still
    comes from the decorator (summary, response_model, openapi_extra). Error handlers apply.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The endpoint itself is the handler."""
        return self.endpoint
