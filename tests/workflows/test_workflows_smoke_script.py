"""scripts/smoke.py, the deploy stage's smoke test, run as a command against real servers on
127.0.0.1: a stub that can misbehave in one way at a time, and the real API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.pipeline import ROOT

SMOKE = ROOT / "scripts" / "smoke.py"
VERSION = "20261126T041500Z-3856aec"
# The stub's model: not the banknote one, so the script can only know it from GET /model.
EXAMPLES = [
    {"prediction": "cold", "line": 3, "features": {"temperature": -5.0, "wind": 2.0}},
    {"prediction": "warm", "line": 8, "features": {"temperature": 25.0, "wind": 1.0}},
]


class Stub(ThreadingHTTPServer):
    """A service that answers like the API unless told otherwise through `behaviour`."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.behaviour: dict[str, Any] = {}
        self.ready_calls = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class StubHandler(BaseHTTPRequestHandler):
    server: Stub

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        b = self.server.behaviour
        if self.path == "/":
            self.reply(200, b.get("greeting", {"message": "FastAPI zegt Hallo Wereld"}))
        elif self.path == "/ready":
            self.server.ready_calls += 1
            ready = self.server.ready_calls > b.get("unready_polls", 0)
            self.reply(b.get("ready_status", 200 if ready else 503), {"status": "ok"})
        elif self.path == "/model":
            examples = b.get("examples", EXAMPLES)
            self.reply(200, {"model_version": b.get("version", VERSION), "examples": examples})
        else:
            self.reply(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        row = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        warm = row["temperature"] > 10
        if self.server.behaviour.get("swap_classes"):
            warm = not warm
        name = "warm" if warm else "cold"
        self.reply(200, {"prediction": name, "probability_warm": 0.5, "model_version": VERSION})


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def smoke(*args: str, summary: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the script as the workflow does, outside GitHub (no step summary of the test run)."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    extra = ["--summary", str(summary)] if summary else []
    return subprocess.run(
        [sys.executable, str(SMOKE), *args, *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def failed_checks(stdout: str) -> list[str]:
    return [
        line.split(":")[0].removeprefix("FAIL ")
        for line in stdout.splitlines()
        if line.startswith("FAIL ")
    ]


def test_a_healthy_service_passes_and_is_summarised(stub: Stub, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    result = smoke(stub.url, "--model-version", VERSION, "--wait", "5", summary=summary)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 5 checks passed" in result.stdout
    table = summary.read_text()
    assert f"Smoke test of {stub.url.rstrip('/')} passed" in table
    assert "| GET /model version | pass | " + VERSION in table
    assert "FAIL" not in table


@pytest.mark.parametrize(
    ("behaviour", "failing"),
    [
        ({"greeting": {"message": "Hello World"}}, ["GET / greeting"]),
        ({"ready_status": 503}, ["GET /ready"]),
        ({"swap_classes": True}, ["POST /predict cold example", "POST /predict warm example"]),
        ({"version": "20250101T000000Z-0000000"}, ["GET /model version"]),
        ({"examples": []}, ["POST /predict examples"]),
    ],
)
def test_each_broken_behaviour_fails_its_check(
    stub: Stub, tmp_path: Path, behaviour: dict[str, Any], failing: list[str]
) -> None:
    stub.behaviour = behaviour
    summary = tmp_path / "summary.md"
    result = smoke(stub.url, "--model-version", VERSION, "--wait", "0", summary=summary)
    assert result.returncode == 1
    assert failed_checks(result.stdout) == failing
    checks = 4 if behaviour.get("examples") == [] else 5
    assert f"{len(failing)} of {checks} checks failed" in result.stderr
    assert "FAILED" in summary.read_text()


def test_the_wrong_version_is_named(stub: Stub) -> None:
    stub.behaviour = {"version": "old"}
    result = smoke(stub.url, "--model-version", VERSION, "--wait", "0")
    assert f"FAIL GET /model version: serves old, expected {VERSION}" in result.stdout


def test_without_an_expected_version_any_version_passes(stub: Stub) -> None:
    stub.behaviour = {"version": "anything"}
    assert smoke(stub.url, "--wait", "0").returncode == 0


def test_it_waits_for_a_service_that_becomes_ready(stub: Stub) -> None:
    stub.behaviour = {"unready_polls": 2}
    result = smoke(stub.url, "--model-version", VERSION, "--wait", "10")
    assert result.returncode == 0, result.stdout + result.stderr
    assert stub.ready_calls >= 3


def test_nothing_listening_fails_every_check() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    result = smoke(f"http://127.0.0.1:{port}", "--wait", "0")
    assert result.returncode == 1
    # Without GET /model there are no examples to send: that check fails too.
    assert failed_checks(result.stdout) == [
        "GET / greeting",
        "GET /ready",
        "GET /model version",
        "POST /predict examples",
    ]
    assert "no answer" in result.stdout


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://127.0.0.1/", "http://"])
def test_a_bad_url_is_one_clear_line(url: str) -> None:
    result = smoke(url)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "url must be an http(s) URL" in result.stderr


@pytest.mark.server
@pytest.mark.slow
def test_the_real_service_passes(artifact_dir: Path, artifact_metadata: dict[str, Any]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "api", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--model-dir", str(artifact_dir)]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as server:
        try:
            version = artifact_metadata["model_version"]
            url = f"http://127.0.0.1:{port}/"
            result = smoke(url, "--model-version", version, "--wait", "60")
        finally:
            server.terminate()
            _, log = server.communicate(timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr + log
    # The rows the artifact recorded (lines 1 and 763 of the data file), as /model lists them.
    assert "PASS POST /predict genuine example: genuine (training data line 1)" in result.stdout
    assert "PASS POST /predict forged example: forged (training data line 763)" in result.stdout
