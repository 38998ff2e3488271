"""Debian's Prometheus and promtool for the tests: found on PATH, run on 127.0.0.1, asked through
Prometheus' HTTP API (docs/querying/api.md: /api/v1/query, /query_range, /series, /rules,
/alerts; every answer is {"status": "success"|"error", "data": ...}).

`.ci/run` installs them (scripts/ensure-prometheus.sh). Without them a test skips with a loud
reason, and fails instead in CI (CI=true) or with REQUIRE_PROMETHEUS_TESTS=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import free_port

READY_TIMEOUT = 30.0


def binary(name: str) -> str:
    """The path of `prometheus` or `promtool`; a loud skip (or a failure in CI) without it."""
    found = shutil.which(name)
    if found is None:
        message = f"NO {name.upper()} on PATH: test not run (bash scripts/ensure-prometheus.sh)"
        if os.environ.get("CI") == "true" or os.environ.get("REQUIRE_PROMETHEUS_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


class PrometheusError(AssertionError):
    """Prometheus answered a query with an error."""


class Prometheus:
    """`prometheus` with a config file, its own data directory and log, on a free loopback port."""

    def __init__(
        self, workdir: Path, config: str, *flags: str, env: dict[str, str] | None = None
    ) -> None:
        executable = binary("prometheus")  # skips before anything is opened (no leaked file)
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.config_file = workdir / "prometheus.yml"
        self.config_file.write_text(config, encoding="utf-8")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = workdir / "prometheus.log"
        self._log = self.log_file.open("w")
        self.process = subprocess.Popen(
            [
                executable,
                f"--config.file={self.config_file}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *flags,
            ],
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def output(self) -> str:
        """What Prometheus logged so far."""
        self._log.flush()
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until /-/ready answers 200, or fail with the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"prometheus exited ({self.process.returncode}):\n{self.output()}")
            try:
                if self.client.get("/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"prometheus not ready in {timeout}s:\n{self.output()}")

    def api(self, path: str, **params: Any) -> Any:
        """GET an /api/v1 endpoint; its `data`, or PrometheusError with Prometheus' message."""
        answer = self.client.get(f"/api/v1/{path}", params=params).json()
        if answer.get("status") != "success":
            why = f"{answer.get('errorType')}: {answer.get('error')}"
            raise PrometheusError(f"{path} {params}: {why}")
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's vector: [{"metric": {...}, "value": [time, "text"]}, ...]."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, seconds: float, step: float = 1.0) -> list[dict[str, Any]]:
        """A range query over the last `seconds`, as a dashboard asks."""
        end = time.time()
        data = self.api("query_range", query=expr, start=end - seconds, end=end, step=step)
        assert data["resultType"] == "matrix", data
        result: list[dict[str, Any]] = data["result"]
        return result

    def stop(self) -> None:
        """SIGTERM, wait, close."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.client.close()
        self._log.close()


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run promtool; its result (the caller asserts on the exit code and output)."""
    return subprocess.run(
        [binary("promtool"), *args], capture_output=True, text=True, cwd=cwd, check=False
    )
