"""`docker stop` of the image under load, with one and with two workers.

What a platform does when it retires a replica (Container Apps on scale-in or when a revision is
deactivated: SIGTERM, then SIGKILL after the grace period; learn.microsoft.com "Application
lifecycle management in Azure Container Apps", Shutdown), done here by `docker stop`: SIGTERM to
PID 1, SIGKILL after `--time` seconds (docs.docker.com, "docker container stop", default 10).
The image's own defaults must fit those 10 s. The router, the probe and the checks are
tests/drain.py's, as in tests/api/test_shutdown.py.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from api.config import Settings
from tests.container.support import Container, docker
from tests.drain import (
    BATCH_ROWS,
    KeepAlive,
    Router,
    SlowRequest,
    assert_drained,
    big_batch,
    wait_for,
)

pytestmark = pytest.mark.container

STOP_TIME_S = 10  # docker stop's default, given explicitly


def _logged(container: Container, message: str) -> int:
    return container.logs().count(f'"msg":"{message}"')


@pytest.mark.parametrize("workers", [1, 2])
def test_docker_stop_under_load_drains_then_answers_everything_in_flight(
    start_container: Callable[..., Container], workers: int
) -> None:
    container = start_container("--env", f"WORKERS={workers}")
    wait_for(
        lambda: _logged(container, "Application startup complete.") == workers,
        60,
        "every worker serving",
    )
    drain_s = float(Settings.model_fields["shutdown_drain_seconds"].default)  # the image's
    router = Router(container.url)
    stopped: list[subprocess.CompletedProcess[str]] = []
    stopper = threading.Thread(
        target=lambda: stopped.append(
            docker("stop", "--time", str(STOP_TIME_S), container.id, timeout=STOP_TIME_S + 30)
        )
    )
    try:
        router.start()
        wait_for(lambda: router.answered() >= 20, 60, "traffic flowing")
        kept = KeepAlive("127.0.0.1", container.port)
        assert kept.get("/health") == 200
        held = SlowRequest("127.0.0.1", container.port, "/predict/batch", big_batch())

        sigterm_at = time.monotonic()
        stopper.start()
        router.wait_not_ready(timeout=drain_s)
        assert kept.get("/model") == 200  # during the drain, a kept-alive connection is served
        kept.close()
        router.wait_unrouted(timeout=drain_s)
        wait_for(
            lambda: _logged(container, "Shutting down") == workers,
            drain_s + 5,
            "listeners closed",
        )
        status, answer = held.finish()
        assert status == 200, answer
        predictions = answer["predictions"]
        assert isinstance(predictions, list)
        assert len(predictions) == BATCH_ROWS
        stopper.join(timeout=STOP_TIME_S + 30)
        stopped_after = time.monotonic() - sigterm_at
    finally:
        router.stop()
    state = container.inspect()["State"]
    # 137 would be the SIGKILL at the end of --time.
    assert state["ExitCode"] == 0, container.logs()[-3000:]
    assert not state["OOMKilled"]
    assert stopped_after < STOP_TIME_S
    assert_drained(router, sigterm_at)
    assert container.logs().count("shutdown begun") == workers
