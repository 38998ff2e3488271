"""Fixtures for the infra tests: cached whole-program runs under Pulumi's mocks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml

from contract import FORMAT_VERSION
from infra import naming, pinned_image
from tests.infra.fake_registry import FakeRegistry, serve
from tests.infra.pulumi_harness import (
    BOOTSTRAP_PWD,
    MODEL_NAME,
    MODEL_VERSION,
    ROOT,
    SUBSCRIPTION_ID,
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
        json.dumps(
            {
                "format_version": FORMAT_VERSION,
                "model_version": MODEL_VERSION,
                "contract": {"name": MODEL_NAME},
            }
        ),
        encoding="utf-8",
    )
    return directory


AppStack = Callable[..., ProgramRun]


class Registries:
    """A fake registry (tests/infra/fake_registry.py) on 127.0.0.1 per login server, by stack."""

    def __init__(self, stack: ExitStack) -> None:
        self._exit = stack
        self.by_server: dict[str, FakeRegistry] = {}
        self.routes: dict[str, str] = {}

    def of_stack(self, stack: str, project: str = "banknote") -> FakeRegistry:
        """The registry the app program names for a stack (infra/naming.py registry_name)."""
        label = naming.dns_label(project, stack)
        return self.server(f"{naming.registry_name(label, SUBSCRIPTION_ID)}.azurecr.io")

    def server(self, login_server: str) -> FakeRegistry:
        if login_server not in self.by_server:
            registry = FakeRegistry(login_server)
            self.routes[login_server] = self._exit.enter_context(serve(registry))
            self.by_server[login_server] = registry
        return self.by_server[login_server]


@pytest.fixture(scope="session")
def registries() -> Iterator[Registries]:
    with ExitStack() as stack:
        yield Registries(stack)


def image_in(registries: Registries, stack: str, build: str) -> str:
    """An image by digest in the stack's own registry (a fake ACR the program reads its label
    from), as scripts/rollout.py import-image leaves it there for prod."""
    registry = registries.of_stack(stack)
    labels = {pinned_image.MODEL_VERSION_LABEL: MODEL_VERSION, "build": build}
    return f"{registry.login_server}/banknote-api@{registry.add_image('banknote-api', labels)}"


@pytest.fixture(scope="session")
def prod_image(registries: Registries) -> str:
    """An image prod may run: Container Apps stacks refuse to run without config `image`."""
    return image_in(registries, "prod", "1")


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
def app_stack(model_dir: Path, registries: Registries) -> AppStack:
    """`app_stack(stack, **config)`: the app program's run for that stack and config (cached),
    with the stack's committed config (and CI's config-map for pr-<n>) as the CLI would."""
    cache: dict[tuple[str, tuple[tuple[str, str], ...]], ProgramRun] = {}

    def get(stack: str = "dev", **config: str) -> ProgramRun:
        key = (stack, tuple(sorted(config.items())))
        if key not in cache:
            base = {**committed_config(stack), "modelDir": str(model_dir)}
            if stack.startswith("pr-"):
                base.update(PR_STACK_CONFIG)
            cache[key] = run_app(stack, {**base, **config}, registries=registries.routes)
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
