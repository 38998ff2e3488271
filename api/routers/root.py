"""GET /: the original service's greeting, byte for byte."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.schemas import Message

router = APIRouter(tags=["service"])

_GREETING = b'{"message":"FastAPI zegt Hallo Wereld"}'


@router.get("/", response_model=Message, summary="Hallo Wereld")
async def root() -> Response:
    """The original contract: `{"message":"FastAPI zegt Hallo Wereld"}`."""
    return Response(_GREETING, media_type="application/json")
