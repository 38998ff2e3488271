"""Provenance for an artifact: version string, git commit, library versions."""

from __future__ import annotations

import os
import platform
import secrets
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version

from model.config import PROJECT_ROOT

LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "onnx", "onnxruntime", "skl2onnx")


def git_commit() -> str | None:
    """The commit being trained: $GIT_COMMIT or $GITHUB_SHA in CI, else `git rev-parse HEAD`."""
    for variable in ("GIT_COMMIT", "GITHUB_SHA"):
        if value := os.environ.get(variable):
            return value
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH is the point
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def model_version(created_at: datetime, commit: str | None) -> str:
    """Unique per run and traceable: UTC time, short commit, and a short random run id."""
    stamp = created_at.strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{commit[:7] if commit else 'nogit'}-{secrets.token_hex(3)}"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def library_versions() -> dict[str, str]:
    """Python and the versions of every library that shapes the model files."""
    return {"python": platform.python_version(), **{name: version(name) for name in LIBRARIES}}
