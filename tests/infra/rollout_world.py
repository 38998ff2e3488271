"""Stand-ins for the Pulumi CLI and the Azure CLI as the prod rollout (infra/rollout/run.py) uses
them, each checkout of the repository with its own config file, all sharing one Pulumi backend
and one Azure.

The stand-in `pulumi up` runs the real app program under Pulumi's mocks
(tests/infra/pulumi_harness.py) with that checkout's config, the backend's last outputs of the
stack and the Azure of tests/infra/fake_containerapps.py: what an update declares, refuses or
changes in Azure is the program's. The registries are fake ACRs on 127.0.0.1
(tests/infra/fake_registry.py), read over real HTTP.

What the stand-ins keep of the real tools:
- Stack config lives in the checkout's Pulumi.<stack>.yaml only (a DIY backend keeps none;
  tests/pulumi_cli.py cites the source); `pulumi config --json` lists it as
  `{"<project>:<key>": {"value": ..., "secret": false}}` (pulumi/pulumi
  pkg/cmd/pulumi/config/config.go, `listConfig` with --json).
- `pulumi up` records the program's exports as the stack's outputs only when it succeeds; a
  failed update leaves the old ones (pulumi/pulumi#14752, #15754: the outputs of a failed
  update are the ones it managed to compute, here none, since the program stops before any).
  It replaces the resources in the state with what the program declared.
- `az acr import` fails when the target registry does not exist and copies the manifest and
  what it names under the same digests (learn.microsoft.com "Import container images to a
  container registry"), reading the source by registry name (`--registry`).
- `az containerapp revision list` lists active revisions only, unless `--all` (azure-cli
  containerapp `list_revisions`); `az rest --method patch --url <id>?api-version=... --body`
  sends a JSON merge patch of the app; `az account get-access-token` prints the token.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from infra import pinned_image
from infra.rollout import run as rollout
from tests.infra.conftest import Registries
from tests.infra.fake_containerapps import AzureError, FakeContainerApps
from tests.infra.pulumi_harness import ROOT, ProgramRun, run_app

STACK = "prod"
GROUP = "rg-banknote_prod"
APP = "banknote-prod"
DEV_REGISTRY = "banknotedev0123abcd.azurecr.io"
VERSION = "20261126T041500Z-3856aec"
SMOKE_ONLY = {"rolloutSteps": "0,100"}  # promote on the smoke test alone: no gate


@dataclass
class Backend:
    """What the DIY backend keeps of the stack between jobs: outputs and resources."""

    outputs: dict[str, Any] = field(default_factory=dict)
    state: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class World:
    """The backend, Azure (apps and registries), and every checkout's calls."""

    registries: Registries
    azure: FakeContainerApps = field(default_factory=FakeContainerApps)
    backend: Backend = field(default_factory=Backend)
    runs: list[ProgramRun] = field(default_factory=list)  # every program run, in order
    fail_up: bool = False
    fail_deactivate: bool = False
    fail_patch: bool = False
    # Committed config as a test changes it (say, monitoring off), for every checkout.
    committed: dict[str, str] = field(default_factory=dict)

    def checkout(self) -> Checkout:
        """A fresh clone: the committed Pulumi.prod.yaml, nothing a job wrote."""
        return Checkout(self, {**committed_config(), **self.committed})

    def split(self) -> list[tuple[str, int, str]]:
        return self.azure.split(GROUP, APP)

    def active(self) -> set[str]:
        return self.azure.active(GROUP, APP)


def committed_config() -> dict[str, str]:
    values = yaml.safe_load((ROOT / f"Pulumi.{STACK}.yaml").read_text())["config"]
    config = {k.removeprefix("banknote:"): str(v) for k, v in values.items()}
    # No model artifact anywhere: prod deploys images, whose version is their label.
    config["modelDir"] = "/nonexistent/model"
    return config


@dataclass
class Checkout:
    """One checkout's `pulumi` and `az`: a runner for infra/rollout/run.py."""

    world: World
    config: dict[str, str] = field(default_factory=committed_config)
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, args: Sequence[str], echo: bool = True) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        tool, *rest = args
        code, out = self.pulumi(rest) if tool == "pulumi" else self.az(rest)
        return subprocess.CompletedProcess(list(args), code, out, "" if code == 0 else out)

    # -- pulumi ------------------------------------------------------------------------------
    def pulumi(self, args: list[str]) -> tuple[int, str]:
        if args[:2] == ["config", "set"]:
            self.config[args[4]] = args[5]
            return 0, ""
        if args[:2] == ["config", "rm"]:
            self.config.pop(args[4], None)
            return 0, ""
        if args[:2] == ["config", "--json"]:
            listed = {
                f"banknote:{k}": {"value": v, "secret": False} for k, v in self.config.items()
            }
            return 0, json.dumps(listed)
        if args[:2] == ["stack", "output"]:
            return 0, json.dumps(self.world.backend.outputs)
        if args[:2] == ["stack", "export"]:
            return 0, json.dumps({"deployment": {"resources": self.world.backend.state}})
        if args[0] == "up":
            assert "--target" not in args
            return self.up()
        raise AssertionError(f"unexpected pulumi {args}")

    def up(self, *, preview: bool = False) -> tuple[int, str]:
        world = self.world
        if world.fail_up:
            return 255, "error: update failed"
        run = run_app(
            STACK,
            self.config,
            registries=world.registries.routes,
            azure=world.azure,
            stack_outputs=world.backend.outputs,
            preview=preview,
        )
        world.runs.append(run)
        if run.error is not None:
            return 255, f"error: {run.error}"
        if not preview:
            world.backend.state = [{"type": r.type, "outputs": r.state} for r in run.custom()]
            world.backend.outputs = dict(run.exports)
        return 0, "update done"

    # -- az ------------------------------------------------------------------------------------
    def az(self, args: list[str]) -> tuple[int, str]:
        try:
            return 0, self._az(args)
        except AzureError as error:
            return 1, f"ERROR: {error}"

    def _az(self, args: list[str]) -> str:
        world, azure = self.world, self.world.azure

        def flag(name: str) -> str:
            return args[args.index(name) + 1]

        if args[:2] == ["acr", "import"]:
            name = flag("--name")
            targets = [r["outputs"] for r in world.backend.state if r["type"].endswith("Registry")]
            if not any(t["name"] == name for t in targets):
                raise AzureError(f"(ResourceNotFound) The Resource '{name}' was not found.")
            repository, digest = flag("--source").split("@")
            source = world.registries.server(f"{flag('--registry')}.azurecr.io")
            target = world.registries.server(f"{name}.azurecr.io")
            target.import_from(source, repository, digest)
            return ""
        if args[:2] == ["containerapp", "show"]:
            return json.dumps(azure.show(flag("--resource-group"), flag("--name")))
        if args[:3] == ["containerapp", "revision", "list"]:
            listed = azure.revision_list(flag("--resource-group"), flag("--name"))
            if "--all" not in args:
                listed = [r for r in listed if r["properties"]["active"]]
            return json.dumps(listed)
        if args[:3] == ["containerapp", "revision", "deactivate"]:
            if world.fail_deactivate:
                raise AzureError("deactivation failed")
            azure.deactivate(flag("--resource-group"), flag("--name"), flag("--revision"))
            return ""
        if args[:1] == ["rest"]:
            assert flag("--method") == "patch"
            if world.fail_patch:
                raise AzureError("(InternalServerError) the PATCH failed")
            resource_id, _, query = flag("--url").partition("?")
            assert query.startswith("api-version="), query
            azure.patch(resource_id, json.loads(flag("--body")))
            return ""
        if args[:2] == ["account", "get-access-token"]:
            return f"token-for-{flag('--resource')}\n"
        raise AssertionError(f"unexpected az {args}")


# -- what the prod job does, each job in a fresh checkout ------------------------------------
def dev_image(world: World, n: int, version: str = VERSION) -> str:
    """An image dev built and pushed: its reference by digest in dev's registry."""
    registry = world.registries.server(DEV_REGISTRY)
    digest = registry.add_image(
        "banknote-api", {pinned_image.MODEL_VERSION_LABEL: version, "build": str(n)}
    )
    return f"{DEV_REGISTRY}/banknote-api@{digest}"


def ci(world: World) -> Checkout:
    """A CI runner's fresh checkout, promoting on the smoke test alone."""
    checkout = world.checkout()
    checkout.config.update(SMOKE_ONLY)
    return checkout


def deploy(
    world: World, source: str, rollout_id: str = "", version: str = VERSION
) -> rollout.Rollout:
    """What the prod job does up to the smoke test: import-image + canary, in a fresh runner."""
    steps = rollout.Rollout("prod", ci(world))
    image = steps.import_image(source, version)
    steps.canary(image, rollout_id)
    return steps


def release(world: World, source: str, rollout_id: str = "", version: str = VERSION) -> str:
    """A whole passing rollout (the smoke test passed); the revision that serves after it."""
    steps = deploy(world, source, rollout_id, version)
    rollout.Rollout("prod", ci(world)).promote()
    return steps.outputs_written["revision"]
