"""Fixtures for the infra tests: cached whole-program runs under Pulumi's mocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from contract import FORMAT_VERSION
from tests.infra.pulumi_harness import MODEL_VERSION, ProgramRun, run_app, run_program


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in artifact directory: the app program reads only metadata.json."""
    directory = tmp_path_factory.mktemp("artifact") / "model"
    directory.mkdir()
    (directory / "metadata.json").write_text(
        json.dumps({"format_version": FORMAT_VERSION, "model_version": MODEL_VERSION}),
        encoding="utf-8",
    )
    return directory


AppStack = Callable[..., ProgramRun]


@pytest.fixture(scope="session")
def app_stack(model_dir: Path) -> AppStack:
    """`app_stack(stack, **config)`: the app program's run for that stack and config (cached)."""
    cache: dict[tuple[str, tuple[tuple[str, str], ...]], ProgramRun] = {}

    def get(stack: str = "dev", **config: str) -> ProgramRun:
        key = (stack, tuple(sorted(config.items())))
        if key not in cache:
            cache[key] = run_app(stack, {"modelDir": str(model_dir), **config})
        return cache[key]

    return get


BOOTSTRAP_CONFIG = {"githubRepository": "octo-org/banknote-mlops"}


@pytest.fixture(scope="session")
def bootstrap_stack() -> Callable[..., ProgramRun]:
    """`bootstrap_stack(**config)`: the bootstrap program's run for that config (cached)."""
    from infra.bootstrap.program import main

    cache: dict[tuple[tuple[str, str], ...], ProgramRun] = {}

    def get(**config: str) -> ProgramRun:
        merged = {**BOOTSTRAP_CONFIG, **config}
        key = tuple(sorted(merged.items()))
        if key not in cache:
            cache[key] = run_program(
                main, project="banknote-bootstrap", stack="azure", config=merged
            )
        return cache[key]

    return get
