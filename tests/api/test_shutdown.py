"""SIGTERM under load, for real: `python -m api` on 127.0.0.1 with one and with two workers.

A router keeps sending single notes and 10,000-row batches over keep-alive connections and
probes /ready; a 10,000-row batch is held in flight until after the listener has closed. Then
SIGTERM: /ready must answer 503 during the drain while everything else is still answered, the
held batch must be answered after the listener closed, no request may fail, and the process
must exit 0 within the 10 s that `docker stop` gives (docs.docker.com, "docker container stop":
`--time`, default 10) with the service's default timing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from api.shutdown import Shutdown
from tests.banknote import GENUINE
from tests.drain import (
    BATCH_ROWS,
    KeepAlive,
    Router,
    SlowRequest,
    assert_drained,
    big_batch,
    wait_for,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]

DOCKER_STOP_S = 10
DRAIN_S = float(Settings.model_fields["shutdown_drain_seconds"].default)
GRACEFUL_S = float(Settings.model_fields["graceful_shutdown_seconds"].default)


def test_the_default_timing_fits_docker_stop() -> None:
    # Drain, then in-flight requests, then 2 s to spare for the workers and the exit.
    assert DRAIN_S >= 1
    assert GRACEFUL_S >= 1
    assert DRAIN_S + GRACEFUL_S + 2 <= DOCKER_STOP_S


# -- api/shutdown.py in this process, with real signals ----------------------------------------
@pytest.fixture
def server_handler() -> Iterator[list[tuple[float, int]]]:
    """A stand-in for uvicorn's SIGTERM handler (installed the way uvicorn installs its own,
    with signal.signal) that records when it is called; the previous handler comes back."""
    calls: list[tuple[float, int]] = []

    def handle_exit(signum: int, frame: FrameType | None) -> None:
        calls.append((time.monotonic(), signum))

    previous = signal.signal(signal.SIGTERM, handle_exit)
    try:
        yield calls
    finally:
        signal.signal(signal.SIGTERM, previous)


async def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


def test_sigterm_begins_the_drain_and_reaches_the_server_after_it(
    server_handler: list[tuple[float, int]],
) -> None:
    async def scenario() -> None:
        shutdown = Shutdown(drain_seconds=0.3)
        shutdown.intercept_sigterm()
        sent = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0)
        assert shutdown.begun
        assert server_handler == []  # still serving
        await _until(lambda: server_handler)
        assert server_handler[0][0] - sent >= 0.3
        assert server_handler[0][1] == signal.SIGTERM
        shutdown.release_sigterm()
        assert signal.getsignal(signal.SIGTERM) is not None
        os.kill(os.getpid(), signal.SIGTERM)  # the server's own handler again
        await _until(lambda: len(server_handler) == 2)

    asyncio.run(scenario())


def test_a_second_sigterm_skips_the_rest_of_the_drain(
    server_handler: list[tuple[float, int]],
) -> None:
    async def scenario() -> None:
        shutdown = Shutdown(drain_seconds=60)
        shutdown.intercept_sigterm()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert shutdown.begun
        assert server_handler == []
        os.kill(os.getpid(), signal.SIGTERM)
        await _until(lambda: server_handler)
        await asyncio.sleep(0.05)
        assert len(server_handler) == 1  # handed on once, the drain's timer cancelled
        shutdown.release_sigterm()

    asyncio.run(scenario())


def test_ready_is_503_once_shutdown_began_and_the_rest_still_answers(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200
        client.app.state.shutdown.begun = True  # what the relay does on SIGTERM  # type: ignore[attr-defined]
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json() == {"status": "shutting down"}
        assert client.post("/predict", json=GENUINE).status_code == 200
        assert client.get("/health").status_code == 200


# -- `python -m api` under load -------------------------------------------------------------------
def _logged(server: Any, message: str) -> int:
    return server.output().count(f'"msg":"{message}"')


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_under_load_drains_then_answers_everything_in_flight(
    artifact_dir: Path, tmp_path: Path, start_server: Any, workers: int
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(artifact_dir, model_dir)
    server = start_server(model_dir, "--workers", str(workers))
    router = Router(server.url)
    try:
        server.wait_ready()
        wait_for(
            lambda: _logged(server, "Application startup complete.") == workers,
            60,
            "every worker serving",
        )
        router.start()
        wait_for(lambda: router.answered() >= 20, 60, "traffic flowing")
        kept = KeepAlive("127.0.0.1", server.port)
        assert kept.get("/health") == 200
        held = SlowRequest("127.0.0.1", server.port, "/predict/batch", big_batch())

        sigterm_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        router.wait_not_ready(timeout=DRAIN_S)
        assert kept.get("/model") == 200  # during the drain, a kept-alive connection is served
        kept.close()
        # Routing stops on the probe's 503s, before the drain ends.
        router.wait_unrouted(timeout=DRAIN_S)
        # Once the drain is over, every worker's uvicorn closes its listener ...
        wait_for(
            lambda: _logged(server, "Shutting down") == workers, DRAIN_S + 5, "listeners closed"
        )
        assert time.monotonic() - sigterm_at >= DRAIN_S
        # ... and the batch still in flight is answered in full.
        status, answer = held.finish()
        assert status == 200, answer
        predictions = answer["predictions"]
        assert isinstance(predictions, list)
        assert len(predictions) == BATCH_ROWS
        left = DOCKER_STOP_S - (time.monotonic() - sigterm_at)
        exit_code = server.process.wait(timeout=max(left, 0.1))
        router.stop()
    finally:
        router.stop()
        server.stop()
    assert exit_code == 0, server.output()[-3000:]
    assert_drained(router, sigterm_at)
    assert _logged(server, "shutdown begun: /ready answers 503, serving on until the drain ends")
    assert server.output().count("shutdown begun") == workers


def test_sigterm_while_the_app_starts_exits_0(
    artifact_dir: Path, tmp_path: Path, start_server: Any
) -> None:
    # Before the lifespan has put the relay in place, uvicorn handles SIGTERM itself: it
    # finishes starting, stops, and re-raises the signal, which must still end in exit code 0.
    model_dir = tmp_path / "model"
    shutil.copytree(artifact_dir, model_dir)
    server = start_server(model_dir)
    try:
        wait_for(lambda: _logged(server, "Waiting for application startup.") > 0, 60, "start")
        server.process.send_signal(signal.SIGTERM)
        exit_code = server.process.wait(timeout=DOCKER_STOP_S)
    finally:
        server.stop()
    assert exit_code == 0, server.output()[-3000:]
    assert "Traceback" not in server.output()
