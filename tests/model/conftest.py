"""Helpers for the model tests: write real data files with chosen defects."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.banknote import DATA_PATH

WriteData = Callable[[str], Path]


@pytest.fixture
def write_data(tmp_path: Path) -> WriteData:
    """Write `text` to a data file in tmp_path and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "data.txt"
        path.write_text(text)
        return path

    return write


@pytest.fixture
def real_lines() -> list[str]:
    return DATA_PATH.read_text().splitlines()


@pytest.fixture
def artifact_copy(artifact_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the session artifact that a test may damage."""
    return Path(shutil.copytree(artifact_dir, tmp_path / "model"))
