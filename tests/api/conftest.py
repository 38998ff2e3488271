"""Fixtures for the API tests: apps built on the session's freshly trained artifact."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

# Starlette 1.10 deprecates driving its TestClient with httpx (it wants "httpx2", which is
# not in the lock); the client still works, so only this one warning is silenced.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
from fastapi.testclient import TestClient  # noqa: E402

from api.config import Settings  # noqa: E402
from api.main import create_app  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def settings(artifact_dir: Path) -> Settings:
    """Settings pointing at the trained artifact, with small limits that tests can reach."""
    return Settings(model_dir=artifact_dir, max_batch_rows=50, max_body_bytes=8192)


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    """One app for the read-only tests (building one per test would retrain nothing, but
    would re-create the ORT session every time)."""
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    """A TestClient with the lifespan run, so the model is loaded as in production."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def fresh_client(settings: Settings) -> Iterator[TestClient]:
    """A client on a new app, for tests that change state or count metrics."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def artifact_copy(artifact_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the trained artifact, for tampering with."""
    copy = tmp_path / "model"
    shutil.copytree(artifact_dir, copy)
    return copy


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`python -m api` in a subprocess on a free loopback port."""

    def __init__(self, model_dir: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (model_dir.parent / f"server-{self.port}.log").open("w+")
        self._final_output = ""
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api",
                "--port",
                str(self.port),
                "--model-dir",
                str(model_dir),
                *extra,
            ],
            cwd=REPO,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until /ready answers 200 (or fail with the server's output)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited early ({self.process.returncode}):\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"server not ready in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        """Everything the server printed so far."""
        if self.log.closed:
            return self._final_output
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> int:
        """SIGTERM, wait, return the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.log.closed:
            self._final_output = self.output()
            self.log.close()
        return self.process.returncode


@pytest.fixture(scope="session")
def server(artifact_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real uvicorn server for the whole session."""
    model_dir = tmp_path_factory.mktemp("served") / "model"
    shutil.copytree(artifact_dir, model_dir)
    running = Server(model_dir)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def start_server() -> type[Server]:
    """The Server class, for tests that need a server of their own (`start_server(dir)`)."""
    return Server
