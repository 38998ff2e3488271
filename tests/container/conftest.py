"""Fixtures for the container tests: a Docker engine, the built image and a running container.

These tests build and run the real image (scripts/image.sh) and talk to it over 127.0.0.1.
Without a Docker engine they skip with a loud reason; REQUIRE_CONTAINER_TESTS=1 (set by .ci/run
and `make container-test`) turns that skip into a failure, so CI cannot pass without them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.container.support import (
    ARTIFACT_DIR,
    IMAGE_TAG,
    ROOT,
    Container,
    docker,
    free_port,
    run_container,
)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip loudly (or fail under REQUIRE_CONTAINER_TESTS=1) when no Docker engine answers."""
    try:
        result = subprocess.run(
            ["docker", "info"], capture_output=True, text=True, timeout=30, check=False
        )
        problem = result.stderr.strip().splitlines()[-1:] if result.returncode else None
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        problem = [str(exc)]
    if problem is None:
        return
    message = (
        f"NO DOCKER ENGINE - CONTAINER TESTS NOT RUN ({' '.join(problem)}). "
        "Start one with `bash scripts/ensure-docker.sh`."
    )
    if os.environ.get("REQUIRE_CONTAINER_TESTS") == "1":
        pytest.fail(f"{message} REQUIRE_CONTAINER_TESTS=1 makes this a failure.")
    pytest.skip(message)


@pytest.fixture(scope="session")
def image_artifact() -> dict[str, Any]:
    """metadata.json of the artifact that goes into the image; trains one if there is none
    that this code can serve (none yet, or an older format after an upgrade).

    The image is built from artifacts/model/ in the repository (the Docker build context), so
    this uses that directory rather than the session's temporary artifact.
    """
    metadata_path = ARTIFACT_DIR / "metadata.json"
    check = [sys.executable, "-m", "contract", str(ARTIFACT_DIR)]
    if subprocess.run(check, cwd=ROOT, capture_output=True, check=False).returncode != 0:
        subprocess.run(
            [sys.executable, "-m", "model", "train", "--out", str(ARTIFACT_DIR)],
            cwd=ROOT,
            check=True,
        )
    metadata: dict[str, Any] = json.loads(metadata_path.read_text())
    return metadata


@pytest.fixture(scope="session")
def image_revision() -> str:
    """The git commit the image is built from (read just before the build)."""
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="session")
def image(docker_engine: None, image_artifact: dict[str, Any], image_revision: str) -> str:
    """The image, freshly built by scripts/image.sh (the same path as `make image`)."""
    result = subprocess.run(
        ["bash", "scripts/image.sh", IMAGE_TAG],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/image.sh failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return IMAGE_TAG


@pytest.fixture(scope="session")
def base_image(docker_engine: None) -> str:
    """The base the image was built from (what scripts/ensure-base-image.sh chose)."""
    result = subprocess.run(
        ["bash", "scripts/ensure-base-image.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


# Containers live per test module, so none outlives these tests and holds port 8000 while
# other packages' tests run.
@pytest.fixture(scope="module")
def start_container(image: str) -> Iterator[Callable[..., Container]]:
    """Factory: start a container of the image (extra `docker run` options allowed).

    Every container started through it is removed at the end of the module.
    """
    started: list[Container] = []

    def start(*extra: str, port: int | None = None) -> Container:
        container = run_container(image, port or free_port(), *extra)
        started.append(container)
        return container

    yield start
    for container in started:
        docker("rm", "--force", container.id, check=False)


@pytest.fixture(scope="module")
def service(start_container: Callable[..., Container]) -> Container:
    """The shared container: read-only root, port 8000 unless taken, health checked every 1 s."""
    return start_container("--health-interval=1s", port=free_port(preferred=8000))


@pytest.fixture(scope="module")
def client(service: Container) -> Iterator[httpx.Client]:
    """An HTTP client for the shared container."""
    with httpx.Client(base_url=service.url, timeout=10.0) as http:
        yield http
