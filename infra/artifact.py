"""Reads the model's name and version from the trained artifact, through the artifact contract."""

from __future__ import annotations

from pathlib import Path

import contract
from infra.errors import ConfigError


def read_model_version(model_dir: Path) -> str:
    """`model_version` from `<model_dir>/metadata.json`; ConfigError if absent or malformed."""
    return read_header(model_dir).model_version


def read_header(model_dir: Path) -> contract.ArtifactHeader:
    """The header of `<model_dir>/metadata.json` (format, version, the model's name);
    ConfigError if absent or malformed.

    Only the header is read: the image build that follows copies the whole artifact, and the
    service verifies the rest when it starts.
    """
    try:
        return contract.read_header(model_dir)
    except contract.ArtifactMissingError as error:
        raise ConfigError(
            f"model artifact not found: {error}; if it lives elsewhere, point config modelDir at it"
        ) from None
    except contract.ArtifactUnreadableError as error:
        raise ConfigError(f"model artifact unreadable: {error}") from None
    except contract.ArtifactError as error:
        raise ConfigError(f"model artifact invalid: {error}") from None
