"""Read a JSON request body and validate it, turning every problem into a client error.

The prediction endpoints parse the body themselves (raw bytes -> pydantic-core) instead of
letting FastAPI do it: it is several times cheaper per request, and a wrong content type can
be answered with 415. The OpenAPI schema still documents the body (see routers/predict.py).
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import TypeAdapter, ValidationError
from starlette.requests import ClientDisconnect

T = TypeVar("T")

# A batch of garbage can hold tens of thousands of errors; the first ones are enough.
MAX_REPORTED_ERRORS = 20


class BodyError(Exception):
    """A request body that cannot be used; carries the status and the field errors."""

    def __init__(self, status_code: int, errors: list[dict[str, Any]], total: int) -> None:
        """`errors` are {"loc", "msg", "type"} dicts; `total` counts the ones left out too."""
        super().__init__(errors[0]["msg"] if errors else "bad request body")
        self.status_code = status_code
        self.errors = errors
        self.total = total


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def content_type(request: Request) -> str | None:
    """The request's Content-Type header (None: none sent)."""
    # Straight from the ASGI headers: cheaper than building request.headers.
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            content_type: str = value.decode("latin-1")
            return content_type
    return None


async def read_body(request: Request) -> bytes:
    """The whole request body, whatever its content type."""
    # request.body() goes through an async generator; reading the messages directly is
    # cheaper, and the common case is a single message.
    receive = request.receive
    message = await receive()
    chunk = message.get("body", b"")
    if not message.get("more_body", False):
        return chunk  # type: ignore[no-any-return]
    chunks = [chunk]
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


async def read_json_bytes(request: Request, expected: str) -> bytes:
    """The raw body of a JSON request; 415 for another content type, 422 when empty."""
    if not _is_json(content_type(request)):
        raise BodyError(
            415,
            [
                {
                    "loc": ["header", "content-type"],
                    "msg": "Content-Type must be application/json",
                    "type": "unsupported_media_type",
                }
            ],
            1,
        )
    raw = await read_body(request)
    if not raw.strip():
        raise BodyError(
            422,
            [
                {
                    "loc": ["body"],
                    "msg": f"Request body is empty: expected {expected}",
                    "type": "missing",
                }
            ],
            1,
        )
    return raw


def validate(adapter: TypeAdapter[T], raw: bytes) -> T:
    """`raw` parsed and validated by `adapter`; 422 naming each bad field otherwise."""
    try:
        return adapter.validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        reported = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in errors[:MAX_REPORTED_ERRORS]
        ]
        raise BodyError(422, reported, len(errors)) from None
