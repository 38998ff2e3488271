"""docs/api.md, Shutdown: the timing table against the service's defaults (api/config.py) and
the Pulumi program's Container Apps values (infra/containerapp.py)."""

from __future__ import annotations

import re

from api.config import Settings
from infra import containerapp
from tests.docs.pages import page

API = page("api.md")
DOCKER_STOP_S = 10  # docs.docker.com, "docker container stop": --time defaults to 10


def _seconds(cell: str) -> int:
    match = re.fullmatch(r"(\d+) s", cell)
    assert match, f"{API.name}, Shutdown: {cell!r} is not a number of seconds"
    return int(match[1])


def _row(rows: list[dict[str, str]], where: str) -> list[int]:
    row = next(r for r in rows if where in r["Where"])
    return [_seconds(row[column]) for column in ("Drain", "In flight", "Grace period")]


def test_the_shutdown_timing_is_what_the_service_and_the_program_use() -> None:
    rows = API.table("Shutdown")
    defaults = Settings.model_fields
    assert _row(rows, "docker stop") == [
        defaults["shutdown_drain_seconds"].default,
        defaults["graceful_shutdown_seconds"].default,
        DOCKER_STOP_S,
    ], f"{API.name}, Shutdown: the defaults"
    assert _row(rows, "Container Apps") == [
        containerapp.SHUTDOWN_DRAIN_SECONDS,
        containerapp.GRACEFUL_SHUTDOWN_SECONDS,
        containerapp.TERMINATION_GRACE_SECONDS,
    ], f"{API.name}, Shutdown: Container Apps"
