"""Refuse request bodies over a size limit with 413, counting the bytes actually streamed."""

from __future__ import annotations

from pydantic_core import to_json
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware.request_id import request_id_of
from api.mlflow_codec import error_body as mlflow_error_body
from api.v2_codec import error_body as v2_error_body


class BodyTooLargeError(Exception):
    """Raised from `receive` once a streamed body passes the limit."""


class BodyLimitMiddleware:
    """413 for a declared Content-Length over the limit, or a chunked body that grows past it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        """Wrap `app`; allow at most `max_bytes` of request body."""
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope["headers"])
        if declared is not None:
            if declared > self.max_bytes:
                await self._reject(scope, send)
                return
            # The HTTP server enforces the declared length, so the body cannot be longer.
            await self.app(scope, receive, send)
            return
        await self._guard_stream(scope, receive, send)

    async def _guard_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if started:
                raise
            await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        body = too_large_body(scope, f"Request body is larger than {self.max_bytes} bytes")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def too_large_body(scope: Scope, message: str) -> bytes:
    """The 413 answer in the error shape of the protocol the path belongs to: the Open
    Inference Protocol's `{"error"}`, MLflow's `{"error_code", "message"}`, or the service's."""
    path: str = scope["path"]
    if path == "/v2" or path.startswith("/v2/"):
        return v2_error_body(message)
    if path == "/invocations":
        return mlflow_error_body(message)
    return to_json(
        {
            "detail": [{"loc": ["body"], "msg": message, "type": "too_large"}],
            "request_id": request_id_of(scope),
        }
    )


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
