"""Run `python -m model` as a user does, and check its one-line errors."""

from __future__ import annotations

import subprocess
import sys

from model.config import PROJECT_ROOT


def run_model(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m model ARGS` in a subprocess from the project root."""
    return subprocess.run(
        [sys.executable, "-m", "model", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    """Exit code `code`, and stderr is exactly one line starting "error: " containing `text`."""
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("error: ")
    assert text in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
