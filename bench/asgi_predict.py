"""One POST /predict as an ASGI server hands it to an app: for timing apps in this process."""

from __future__ import annotations

from typing import Any

BODY = b'{"variance": 3.6216, "skewness": 8.6661, "curtosis": -2.8073, "entropy": -0.44699}'
SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/predict",
    "raw_path": b"/predict",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


async def receive() -> dict[str, Any]:
    """The request body, in one message."""
    return {"type": "http.request", "body": BODY, "more_body": False}
