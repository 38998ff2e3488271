"""Reads the model version from the trained artifact (the contract in TEAM.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from infra.errors import ConfigError

# Used as an image tag and a build argument: the Docker tag alphabet, at most 128 characters.
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def read_model_version(model_dir: Path) -> str:
    """`model_version` from `<model_dir>/metadata.json`; ConfigError if absent or malformed."""
    path = model_dir / "metadata.json"
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"model artifact not found: {path} does not exist. Train first (`make train`) "
            "or point config modelDir at an artifact directory."
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"model artifact unreadable: {path}: {exc}") from None
    version = metadata.get("model_version") if isinstance(metadata, dict) else None
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ConfigError(f"model artifact invalid: {path} has no usable 'model_version'")
    return version
