"""Request ids: accept a sane client-sent X-Request-ID, otherwise make one."""

from __future__ import annotations

import random
import re
from typing import Any

HEADER = b"x-request-id"
# Letters, digits and . _ : - up to 128 characters: covers UUIDs and common tracing ids and
# keeps log lines and response headers free of anything a client could use for injection.
_VALID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def accept_or_generate(headers: list[tuple[bytes, bytes]]) -> str:
    """The request's X-Request-ID if it is valid, else a new random 32-hex-digit id."""
    for name, value in headers:
        if name == HEADER:
            if _VALID.fullmatch(value):
                return value.decode("ascii")
            break
    # An id must be unique, not secret: 128 bits of the process's Mersenne Twister (seeded
    # from os.urandom, and re-seeded in a forked child by the random module itself) instead of
    # a getrandom(2) system call per request, which cost 5 % of the samples under load.
    return f"{random.getrandbits(128):032x}"


def request_id_of(scope: Any) -> str | None:
    """The id RequestMiddleware stored in the ASGI scope (None outside a request)."""
    state = scope.get("state")
    return state.get("request_id") if state is not None else None


def store(scope: Any, request_id: str) -> None:
    """Keep the id in scope["state"], where `request.state.request_id` finds it too."""
    state = scope.get("state")
    if state is None:
        scope["state"] = state = {}
    state["request_id"] = request_id
