"""Fixtures shared by every test package: a real model trained once per test session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contract import METADATA_FILE
from model.build import train_artifact
from model.config import TrainConfig
from tests.banknote import DATA_PATH, spec_on, three_feature_spec
from tests.session_model import trained_artifact


@pytest.fixture(scope="session")
def artifact_dir() -> Path:
    """A freshly trained artifact directory (real data, default config), shared read-only."""
    return trained_artifact()


@pytest.fixture(scope="session")
def artifact_metadata(artifact_dir: Path) -> dict[str, Any]:
    metadata: dict[str, Any] = json.loads((artifact_dir / METADATA_FILE).read_text())
    return metadata


@pytest.fixture(scope="session")
def weak_artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clearly worse model: trained with the variance column zeroed, absolute gate off (what a
    comparison with the default model must reject)."""
    work = tmp_path_factory.mktemp("weak")
    rows = [line.split(",", 1)[1] for line in DATA_PATH.read_text().splitlines()]
    zeroed = work / "no-variance.txt"
    zeroed.write_text("".join(f"0,{row}\n" for row in rows))
    out = work / "model"
    train_artifact(spec_on(zeroed, gate=False), out, TrainConfig())
    return out


@pytest.fixture(scope="session")
def new_contract_artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model with another contract than the banknote one (three of its four features): what
    a comparison must call a new model contract, not a regression."""
    work = tmp_path_factory.mktemp("new-contract")
    out = work / "model"
    train_artifact(three_feature_spec(work), out, TrainConfig())
    return out
