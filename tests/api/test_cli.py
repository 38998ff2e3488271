"""`python -m api` refuses to start on a bad artifact or setting: one line, non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
