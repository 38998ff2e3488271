"""Helpers for the container tests: the docker CLI, free ports, a started container."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT_DIR = ROOT / "artifacts" / "model"
IMAGE_TAG = os.environ.get("CONTAINER_TEST_IMAGE", "banknote-api:test")
# Generous: the first start on a cold machine also pays for page-cache misses.
READY_TIMEOUT_S = 60.0
GENUINE_NOTE = {"variance": 3.6216, "skewness": 8.6661, "curtosis": -2.8073, "entropy": -0.44699}
FORGED_NOTE = {"variance": -1.3971, "skewness": 3.3191, "curtosis": -1.3927, "entropy": -1.9948}


def docker(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI and return its completed process (text output captured)."""
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"docker {' '.join(args[:2])} failed ({result.returncode}): {result.stderr}")
    return result


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None) -> int:
    """`preferred` if nothing listens on it, else a free ephemeral port on 127.0.0.1."""
    if preferred is not None and _port_is_free(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass(frozen=True)
class Container:
    """A running container of the image, serving on 127.0.0.1:`port` (host network)."""

    id: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inspect(self) -> dict[str, Any]:
        state: list[dict[str, Any]] = json.loads(docker("inspect", self.id).stdout)
        return state[0]

    def logs(self) -> str:
        result = docker("logs", self.id, check=False)
        return result.stdout + result.stderr


def run_container(image: str, port: int, *extra: str) -> Container:
    """Start the image the way production does, but on loopback, and wait until /ready is 200.

    --network host because nothing may use Docker's bridge here; HOST=127.0.0.1 because on the
    host network the image's default 0.0.0.0 would listen on every interface of this machine.
    """
    name = f"banknote-test-{uuid.uuid4().hex[:8]}"
    cid = docker(
        "run", "--detach", "--name", name,
        "--network", "host", "--read-only",
        "--env", "HOST=127.0.0.1", "--env", f"PORT={port}",
        *extra, image,
    ).stdout.strip()  # fmt: skip
    container = Container(id=cid, port=port)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not container.inspect()["State"]["Running"]:
            logs = container.logs()
            docker("rm", "--force", cid, check=False)
            pytest.fail(f"container exited before it was ready; logs:\n{logs}")
        try:
            if httpx.get(f"{container.url}/ready", timeout=1.0).status_code == 200:
                return container
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    logs = container.logs()
    docker("rm", "--force", cid, check=False)
    pytest.fail(f"/ready did not answer 200 within {READY_TIMEOUT_S:.0f}s; logs:\n{logs}")
