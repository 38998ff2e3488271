"""`python -m api` refuses to start on a bad artifact or setting: one line, non-zero exit."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.config import Settings

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def _single_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def test_missing_artifact_exits_with_one_json_line(tmp_path: Path) -> None:
    result = _run("--model-dir", str(tmp_path / "absent"))
    assert result.returncode == 1
    entry = json.loads(_single_line(result))
    assert entry["level"] == "error"
    assert "does not exist" in entry["msg"]


def test_tampered_artifact_exits_with_one_line(artifact_copy: Path) -> None:
    (artifact_copy / "model.onnx").write_bytes(b"tampered")
    result = _run("--model-dir", str(artifact_copy))
    assert result.returncode == 1
    assert "does not match metadata.json" in json.loads(_single_line(result))["msg"]


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"WORKERS": "0"}, "WORKERS"),
        ({"MAX_BATCH_ROWS": "-5"}, "MAX_BATCH_ROWS"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ],
)
def test_bad_environment_variable_exits_with_one_line(
    env: dict[str, str], name: str, tmp_path: Path
) -> None:
    result = _run("--model-dir", str(tmp_path), env=env)
    assert result.returncode == 2
    assert f"invalid setting {name}" in _single_line(result)


def test_command_line_wins_over_environment(tmp_path: Path) -> None:
    # A bad PORT in the environment does not matter when --port is given.
    result = _run("--port", "8123", "--model-dir", str(tmp_path / "absent"), env={"PORT": "x"})
    assert result.returncode == 1
    assert "does not exist" in _single_line(result)


def test_help_lists_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0
    for option in ("--host", "--port", "--model-dir", "--workers", "PORT", "MODEL_DIR"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--port", "99999"], {}, "invalid option --port:"),
        (["--workers", "0"], {}, "invalid option --workers:"),
        (["--log-level", "loud"], {}, "invalid option --log-level:"),
        ([], {"PORT": "99999"}, "invalid setting PORT:"),
        (["--port", "8123"], {"WORKERS": "0"}, "invalid setting WORKERS:"),
    ],
)
def test_a_bad_value_names_the_option_or_variable_it_came_from(
    args: list[str], env: dict[str, str], named: str, tmp_path: Path
) -> None:
    result = _run(*args, "--model-dir", str(tmp_path), env=env)
    assert result.returncode == 2
    assert _single_line(result).startswith(f"python -m api: {named}")


def test_a_malformed_option_is_one_line() -> None:
    result = _run("--port", "eighty")
    assert result.returncode == 2
    assert _single_line(result) == (
        "python -m api: argument --port: invalid int value: 'eighty' (see: python -m api --help)"
    )


def test_the_default_model_dir_is_the_projects_from_any_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MODEL_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    # Training writes to the same place (model/config.py); the API does not import it.
    assert Settings().model_dir == REPO / "artifacts" / "model"
    # A relative MODEL_DIR is the operator's: taken from the working directory.
    monkeypatch.setenv("MODEL_DIR", "elsewhere")
    assert Settings().model_dir.resolve() == tmp_path / "elsewhere"


@pytest.mark.server
def test_serving_starts_from_a_subdirectory_of_the_project(
    artifact_dir: Path, tmp_path: Path
) -> None:
    # A project laid out like the checkout (and the image's /app): the service, its contract
    # and a trained model in artifacts/model. Started from a subdirectory, without MODEL_DIR.
    project = tmp_path / "project"
    for package in ("api", "contract"):
        shutil.copytree(REPO / package, project / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copytree(artifact_dir, project / "artifacts" / "model")
    (project / "notebooks").mkdir()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if key != "MODEL_DIR"}
    with (tmp_path / "server.log").open("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api", "--port", str(port)],
            cwd=project / "notebooks",
            env={**env, "PYTHONPATH": str(project)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log.seek(0) or log.read()
                try:
                    ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1.0)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log.seek(0) or log.read()
                    time.sleep(0.2)
            assert ready.status_code == 200
            served = httpx.get(f"http://127.0.0.1:{port}/model", timeout=5.0).json()
            metadata = json.loads((artifact_dir / "metadata.json").read_text())
            assert served["model_version"] == metadata["model_version"]
        finally:
            process.terminate()
            process.wait(timeout=30)
