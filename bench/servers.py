"""Start the apps the benchmarks compare, each as its own uvicorn process (one worker)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def commands(port: int, model_dir: Path) -> dict[str, list[str]]:
    """How each app is started: as a user would, one worker, uvloop + httptools (defaults)."""
    py = sys.executable
    uvicorn = [py, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)]
    service = [py, "-m", "api", "--port", str(port), "--model-dir", str(model_dir)]
    return {
        # The original: uvicorn defaults, access log on.
        "reference": [*uvicorn, "bench.reference_app:app"],
        # The framework's ceiling: nothing but the route.
        "bare": [*uvicorn, "--no-access-log", "--log-level", "warning", "bench.bare_app:app"],
        # This service exactly as `make run` starts it: all middleware, JSON logs at info.
        "api": service,
        # The same with /predict written the conventional FastAPI way (bench/conventional_app.py).
        "api-fastapi": [py, "-m", "bench.conventional_app", *service[3:]],
        # The same with one model call per request (what coalescing saves; api/coalescer.py).
        "api-1call": service,
        # The same with the metrics shared through files, as with several workers.
        "api-shared": service,
        # The same without the input drift series (what counting inputs costs).
        "api-nodrift": service,
    }


def environment(name: str, scratch: Path) -> dict[str, str]:
    """Settings that make a variant of the service (`scratch`: a directory of its own)."""
    return {
        "api-1call": {"COALESCE_MAX_ROWS": "1"},
        "api-shared": {"PROMETHEUS_MULTIPROC_DIR": str(scratch)},
        "api-nodrift": {"DRIFT_METRICS": "false"},
    }.get(name, {})


@contextmanager
def running(name: str, model_dir: Path, log: IO[str]) -> Iterator[str]:
    """Run app `name` until the block ends; yields its base URL."""
    port = free_port()
    scratch = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    env = {**os.environ, "MODEL_DIR": str(model_dir), **environment(name, scratch)}
    process = subprocess.Popen(
        commands(port, model_dir)[name], cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"{url}/", timeout=1):  # noqa: S310 - our http URL
                    break
            except urllib.error.HTTPError:
                break  # any HTTP answer (the bare app has no GET /) means it is up
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start; see {log.name}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(scratch, ignore_errors=True)
