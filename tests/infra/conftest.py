"""Fixtures for the infra tests: cached whole-program runs under Pulumi's mocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from contract import FORMAT_VERSION
from tests.infra.pulumi_harness import (
    BOOTSTRAP_PWD,
    MODEL_VERSION,
    ROOT,
    ProgramRun,
    run_app,
    run_program,
)


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


# What CI passes to every pr-<n> stack (deploy.yml, pulumi/actions config-map; the walk in
# tests/workflows/test_workflows_pulumi_runs.py checks the workflow passes exactly this).
PR_STACK_CONFIG = {"resourceGroup": "rg-banknote_pr"}


def committed_config(stack: str) -> dict[str, str]:
    """The stack's committed Pulumi.<stack>.yaml config, keys without the project prefix."""
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        return {}
    values = yaml.safe_load(path.read_text(encoding="utf-8")).get("config") or {}
    return {key.removeprefix("banknote:"): str(value) for key, value in values.items()}


@pytest.fixture(scope="session")
def app_stack(model_dir: Path) -> AppStack:
    """`app_stack(stack, **config)`: the app program's run for that stack and config (cached),
    with the stack's committed config (and CI's config-map for pr-<n>) as the CLI would."""
    cache: dict[tuple[str, tuple[tuple[str, str], ...]], ProgramRun] = {}

    def get(stack: str = "dev", **config: str) -> ProgramRun:
        key = (stack, tuple(sorted(config.items())))
        if key not in cache:
            base = {**committed_config(stack), "modelDir": str(model_dir)}
            if stack.startswith("pr-"):
                base.update(PR_STACK_CONFIG)
            cache[key] = run_app(stack, {**base, **config})
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
                main, project="banknote-bootstrap", stack="azure", config=merged, cwd=BOOTSTRAP_PWD
            )
        return cache[key]

    return get
