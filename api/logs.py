"""Structured logging: every record is one JSON object on one line on stdout."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

from pydantic_core import to_json

ACCESS_LOGGER = "api.access"
_ACCESS_LEVELS = frozenset({"debug", "info"})


# (second, its formatted date-time): one tuple, read and replaced whole, so threads that
# format log lines at the same time never mix a second with another second's text.
_second_cache: tuple[int, str] = (-1, "")


def _iso_utc(timestamp: float) -> str:
    """RFC 3339 UTC with milliseconds; the date-time part is formatted once per second."""
    global _second_cache
    seconds = int(timestamp)
    cached = _second_cache
    if cached[0] != seconds:
        cached = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
        _second_cache = cached
    return f"{cached[1]}.{int((timestamp - seconds) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """Formats a record as {"ts", "level", "logger", "msg", ...fields}."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON line; `extra={"fields": {...}}` adds keys, exceptions add "exc"."""
        entry: dict[str, Any] = {
            "ts": _iso_utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return to_json(entry, fallback=str).decode()


class AccessLog:
    """Writes the one-line-per-request log in the same JSON shape as JsonFormatter.

    It bypasses the logging module on purpose: a logging.Logger call costs 20-40 us per
    record (caller lookup, LogRecord, handler locks) and a write system call, more than
    scoring the row itself. Lines written while the event loop is busy are flushed together
    once per loop iteration, so under load many lines share one write; an idle server still
    writes each line at once.
    """

    def __init__(self, level: str) -> None:
        """Enabled when `level` lets info records through."""
        self.enabled = level.lower() in _ACCESS_LEVELS
        self._pending: list[tuple[float, str, str, str, int, float, str, str | None]] = []

    def write(
        self,
        method: str,
        path: str,
        route: str,
        status: int,
        seconds: float,
        request_id: str,
        client: str | None,
    ) -> None:
        """Queue one request's line; it reaches stdout by the next loop iteration."""
        # Only the values are kept here; lines are formatted in bulk by flush().
        self._pending.append(
            (time.time(), method, path, route, status, seconds, request_id, client)
        )
        if len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no event loop in this thread: write now
                self.flush()

    def flush(self) -> None:
        """Write every queued line to stdout (looked up per call, so capture works)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        # Formatted by hand (same keys and order as JsonFormatter's output). Only the method,
        # path and client come from outside unchecked, so only they need JSON escaping; the
        # request id is validated and the route is a template of this app.
        lines = [
            f'{{"ts":"{_iso_utc(ts)}","level":"info","logger":"{ACCESS_LOGGER}",'
            f'"msg":"request","method":{to_json(method).decode()},'
            f'"path":{to_json(path).decode()},"route":"{route}","status":{status},'
            f'"duration_ms":{seconds * 1000.0:.3f},"request_id":"{rid}",'
            f'"client":{to_json(client).decode()}}}\n'
            for ts, method, path, route, status, seconds, rid, client in pending
        ]
        stream = sys.stdout
        stream.write("".join(lines))
        stream.flush()


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig for uvicorn's `log_config`: applied in every worker process."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": handler},
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            # Let uvicorn's records reach the JSON handler; its access log would duplicate
            # ours (which carries the request id), so it is switched off.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
        },
    }
