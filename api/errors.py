"""Exception handlers: every error leaves the service as JSON with the request id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic_core import to_json
from starlette.exceptions import HTTPException
from starlette.responses import Response

from api.body import MAX_REPORTED_ERRORS, BodyError
from api.middleware.request_id import request_id_of

ERROR_MEDIA_TYPE = "application/json"


def error_response(
    request: Request,
    status_code: int,
    detail: Any,
    total: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An ErrorResponse-shaped JSON answer."""
    content: dict[str, Any] = {"detail": detail, "request_id": request_id_of(request.scope)}
    if total is not None and isinstance(detail, list) and total > len(detail):
        content["errors_total"] = total
    return Response(to_json(content), status_code, headers, ERROR_MEDIA_TYPE)


async def _body_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyError)  # noqa: S101 - registered for this type only
    return error_response(request, exc.status_code, exc.errors, exc.total)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for this type only
    if exc.status_code < 200 or exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return error_response(request, exc.status_code, exc.detail, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return error_response(request, 422, errors[:MAX_REPORTED_ERRORS], len(errors))


def install_error_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers on `app`."""
    app.add_exception_handler(BodyError, _body_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
