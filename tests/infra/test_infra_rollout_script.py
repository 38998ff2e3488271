"""scripts/rollout.py, the prod rollout and its rollback, against stand-ins for the Pulumi CLI and
the Azure CLI. The stand-in `pulumi up` runs the real app program under Pulumi's mocks with the
stack's config (tests/infra/pulumi_harness.py), so what each phase declares, and what it
refuses, is the program's, not the stand-in's. The registries are fake ACRs on 127.0.0.1
(tests/infra/fake_registry.py) that the program reads over real HTTP: the model version prod
exports is the label of the image in prod's own registry.

What the stand-ins keep of the real tools:
- `pulumi up` replaces the stack's resources with what the program declared (a resource the
  program no longer declares is deleted) and its outputs with the program's exports; after a
  failed update only the outputs it set change (pulumi/pulumi#14621). No `--target` is used
  (scripts/rollout.py `create_registry` says why, from pulumi/pulumi's engine).
- `az acr import` fails when the target registry does not exist, copies the manifest and what
  it names under the same digests (learn.microsoft.com "Import container images to a container
  registry"), and reads the source by registry name (`--registry`, the Entra ID path there);
  `az containerapp revision deactivate` is the only way to deactivate a revision, as the
  provider has no revision resource.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import pinned_image
from infra.errors import ConfigError
from scripts import rollout
from tests.infra.conftest import Registries
from tests.infra.pulumi_harness import (
    CONTAINER_APP,
    IDENTITY,
    IMAGE,
    REGISTRY,
    ROLE_ASSIGNMENT,
    ROOT,
    plain,
    run_app,
)

DEV_REGISTRY = "banknotedev0123abcd.azurecr.io"
VERSION = "20261126T041500Z-3856aec"
OLDER = "20261101T120000Z-1234567"
LABEL = pinned_image.MODEL_VERSION_LABEL


@dataclass
class Clouds:
    """The Pulumi backend and Azure, as far as the rollout touches them."""

    registries: Registries
    config: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    state: list[dict[str, Any]] = field(default_factory=list)
    calls: list[list[str]] = field(default_factory=list)
    runs: list[Any] = field(default_factory=list)  # every program run, in order
    traffic: list[list[tuple[str, int, str]]] = field(default_factory=list)
    inactive: set[str] = field(default_factory=set)
    fail_up: bool = False
    fail_deactivate: bool = False

    def __post_init__(self) -> None:
        committed = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
        self.config = {k.removeprefix("banknote:"): str(v) for k, v in committed.items()}
        # No model artifact anywhere: prod deploys images, whose version is their label.
        self.config["modelDir"] = "/nonexistent/model"

    def dev_image(self, n: int, version: str = VERSION) -> str:
        """An image dev built and pushed: its reference by digest in dev's registry."""
        registry = self.registries.server(DEV_REGISTRY)
        digest = registry.add_image("banknote-api", {LABEL: version, "build": str(n)})
        return f"{DEV_REGISTRY}/banknote-api@{digest}"

    def __call__(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        tool, *rest = args
        handler = self.pulumi if tool == "pulumi" else self.az
        code, out = handler(rest)
        return subprocess.CompletedProcess(list(args), code, out, "" if code == 0 else out)

    def pulumi(self, args: list[str]) -> tuple[int, str]:
        if args[:2] == ["config", "set"]:
            self.config[args[4]] = args[5]
            return 0, ""
        if args[:2] == ["config", "rm"]:
            self.config.pop(args[4], None)
            return 0, ""
        if args[:2] == ["config", "get"]:
            value = self.config.get(args[4])
            return (0, value + "\n") if value is not None else (255, "error: not set")
        if args[:2] == ["stack", "output"]:
            return 0, json.dumps(self.outputs)
        if args[:2] == ["stack", "export"]:
            return 0, json.dumps({"deployment": {"resources": self.state}})
        if args[0] == "up":
            assert "--target" not in args
            return self.up()
        raise AssertionError(f"unexpected pulumi {args}")

    def up(self) -> tuple[int, str]:
        if self.fail_up:
            return 255, "error: update failed"
        run = run_app("prod", self.config, registries=self.registries.routes)
        self.runs.append(run)
        if run.error is not None:
            return 255, f"error: {run.error}"
        self.state = [{"type": r.type, "outputs": r.state} for r in run.custom()]
        self.outputs = dict(run.exports)
        apps = run.of_type(CONTAINER_APP)
        if apps:
            entries = plain(apps[0].inputs)["configuration"]["ingress"]["traffic"]
            split = [(e["revisionName"], int(e["weight"]), e["label"]) for e in entries]
            self.traffic.append(split)
        return 0, "update done"

    def az(self, args: list[str]) -> tuple[int, str]:
        if args[:2] == ["acr", "import"]:
            name = args[args.index("--name") + 1]
            targets = [r["outputs"] for r in self.state if r["type"] == REGISTRY]
            if not any(t["name"] == name for t in targets):
                return 3, f"(ResourceNotFound) The Resource '{name}' was not found."
            source_name = args[args.index("--registry") + 1]
            repository, digest = args[args.index("--source") + 1].split("@")
            source = self.registries.server(f"{source_name}.azurecr.io")
            target = self.registries.server(f"{name}.azurecr.io")
            target.import_from(source, repository, digest)
            return 0, ""
        if args[:3] == ["containerapp", "revision", "deactivate"]:
            if self.fail_deactivate:
                return 1, "ERROR: deactivation failed"
            self.inactive.add(args[args.index("--revision") + 1])
            return 0, ""
        raise AssertionError(f"unexpected az {args}")


@pytest.fixture
def clouds(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clouds]:
    monkeypatch.chdir(ROOT)  # where the workflow runs the script
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    with ExitStack() as servers:  # fresh registries for every test
        yield Clouds(Registries(servers))


def deploy(clouds: Clouds, source: str, rollout_id: str, version: str = VERSION) -> rollout.Rollout:
    """import-image + canary of one of dev's images; returns the rollout (outputs inside)."""
    steps = rollout.Rollout("prod", clouds)
    image = steps.import_image(source, version)
    steps.canary(image, 0, rollout_id)
    return steps


# -- the same image, in prod's own registry ------------------------------------------------------
def test_devs_image_cannot_be_deployed_to_prod_as_it_is(clouds: Clouds) -> None:
    # The program takes an image only from the stack's own registry (the one its identity may
    # pull from), and prod's identity may only read dev's: hence the import.
    run = run_app("prod", {**clouds.config, "image": clouds.dev_image(1)})
    assert isinstance(run.error, ConfigError)
    assert f"it is in {DEV_REGISTRY}" in str(run.error)
    assert "az acr import" in str(run.error)


def test_the_first_rollout_creates_the_registry_alone_then_imports_the_same_digest(
    clouds: Clouds,
) -> None:
    source = clouds.dev_image(1)
    steps = rollout.Rollout("prod", clouds)
    image = steps.import_image(source, VERSION)

    # No registry yet: one update with registryOnly, which is removed again right after.
    assert [c[:3] for c in clouds.calls[:5]] == [
        ["pulumi", "stack", "export"],
        ["pulumi", "config", "set"],
        ["pulumi", "up", "--yes"],
        ["pulumi", "config", "rm"],
        ["pulumi", "stack", "export"],
    ]
    assert clouds.calls[1][-2:] == ["registryOnly", "true"]
    assert "registryOnly" not in clouds.config
    (registry_only,) = clouds.runs
    # It declared the registry, the pull identity and its AcrPull, and nothing that serves or
    # builds; it read no artifact (there is none) and no image.
    assert {r.type for r in registry_only.custom()} == {REGISTRY, IDENTITY, ROLE_ASSIGNMENT}
    assert registry_only.of_type(IMAGE) == []
    assert set(clouds.outputs) == {"registry", "resource_group"}

    (registry,) = [r["outputs"] for r in clouds.state if r["type"] == REGISTRY]
    (import_call,) = [c for c in clouds.calls if c[:3] == ["az", "acr", "import"]]
    digest = source.split("@")[1]
    assert import_call == [
        "az", "acr", "import",
        "--name", registry["name"],
        "--registry", DEV_REGISTRY.split(".")[0],
        "--source", f"banknote-api@{digest}",
        "--image", f"banknote-api:{VERSION}",
        "--force",
    ]  # fmt: skip
    # Same digest, prod's own registry: the image dev smoke-tested, not a rebuild.
    assert image == f"{registry['loginServer']}/banknote-api@{digest}"
    assert steps.outputs_written == {"image": image}
    copy = clouds.registries.server(registry["loginServer"])
    assert digest in copy.blobs["banknote-api"]


def test_the_canary_reads_the_model_version_from_the_copy_in_prods_registry(
    clouds: Clouds,
) -> None:
    steps = deploy(clouds, clouds.dev_image(1), "run-1")
    assert steps.outputs_written["model-version"] == VERSION
    canary = clouds.runs[-1]
    assert canary.of_type(IMAGE) == []  # nothing built
    (container,) = plain(canary.one(CONTAINER_APP).inputs)["template"]["containers"]
    assert container["image"] == steps.outputs_written["image"]
    # The label was read from prod's registry, by the digest the import kept.
    login_server = clouds.outputs["registry"]
    digest = steps.outputs_written["image"].split("@")[1]
    reads = [r["path"] for r in clouds.registries.server(login_server).requests]
    assert f"/v2/banknote-api/manifests/{digest}" in reads


def test_the_copy_cannot_be_named_before_it_is_imported(clouds: Clouds) -> None:
    # The other half of the chicken-and-egg: with the registry there but the image not yet
    # imported, the program cannot read its label and refuses the update (previews too).
    steps = rollout.Rollout("prod", clouds)
    steps.import_image(clouds.dev_image(1), VERSION)
    not_imported = clouds.dev_image(2).split("@")[1]
    with pytest.raises(rollout.RolloutError, match="pulumi up of prod failed"):
        steps.canary(f"{clouds.outputs['registry']}/banknote-api@{not_imported}", 0, "run-2")
    assert "MANIFEST_UNKNOWN" in str(clouds.runs[-1].error)


def test_later_rollouts_import_without_running_the_program(clouds: Clouds) -> None:
    deploy(clouds, clouds.dev_image(1), "run-1")
    runs = len(clouds.runs)
    image = rollout.Rollout("prod", clouds).import_image(clouds.dev_image(2), VERSION)
    assert len(clouds.runs) == runs  # the registry exists: straight to `az acr import`
    assert image.startswith(clouds.outputs["registry"] + "/banknote-api@sha256:")
    assert "registryOnly" not in clouds.config


def test_the_registry_only_update_is_refused_where_it_would_delete_a_service(
    clouds: Clouds,
) -> None:
    deploy(clouds, clouds.dev_image(1), "run-1")
    # Someone deleted the registry out of band: the state still holds the service.
    clouds.state = [r for r in clouds.state if r["type"] != REGISTRY]
    runs = len(clouds.runs)
    with pytest.raises(rollout.RolloutError, match="registry-only update would delete them"):
        rollout.Rollout("prod", clouds).import_image(clouds.dev_image(2), VERSION)
    assert len(clouds.runs) == runs
    assert "registryOnly" not in clouds.config


def test_registry_only_is_removed_even_when_its_update_fails(clouds: Clouds) -> None:
    clouds.fail_up = True
    with pytest.raises(rollout.RolloutError, match="pulumi up of prod failed"):
        rollout.Rollout("prod", clouds).import_image(clouds.dev_image(1), VERSION)
    assert "registryOnly" not in clouds.config
    assert ["pulumi", "config", "rm", "--stack", "prod", "registryOnly"] in clouds.calls


# -- canary, promotion, rollback ----------------------------------------------------------------
def test_first_deploy_then_a_canary_then_its_promotion(clouds: Clouds) -> None:
    first = deploy(clouds, clouds.dev_image(1), "run-1")
    # Nothing serves yet (the registry-only run exported no stable_revision): no canary, the
    # new revision takes everything, smoke the app's URL.
    assert first.outputs_written["canary"] == "false"
    v1 = first.outputs_written["revision"]
    assert clouds.traffic[-1] == [(v1, 100, "stable")]
    assert first.outputs_written["target-url"] == clouds.outputs["url"]
    first.promote()
    assert len(clouds.traffic) == 1  # nothing to promote: no second update

    second = deploy(clouds, clouds.dev_image(2), "run-2")
    v2 = second.outputs_written["revision"]
    assert v2 != v1
    assert second.outputs_written["stable-revision"] == v1
    # Phase 1: the old revision keeps 100 %, the new one 0 % with the label canary.
    assert clouds.traffic[-1] == [(v1, 100, "stable"), (v2, 0, "canary")]
    assert second.outputs_written["target-url"].startswith("https://banknote-prod---canary.")
    assert second.outputs_written["canary"] == "true"
    # Phase 2 after the smoke test passed: all traffic to the new revision.
    second.promote()
    assert clouds.traffic[-1] == [(v2, 100, "stable")]
    assert clouds.outputs["stable_revision"] == v2
    # The old revision is deactivated: inactive revisions cost nothing and can be reactivated.
    assert clouds.inactive == {v1}
    assert clouds.config["canaryWeight"] == "100"


def test_a_rollback_of_dev_reaches_prod_as_a_canary_of_the_older_image(clouds: Clouds) -> None:
    # deploy.yml model-version: dev deploys an older version's image from its registry, and
    # prod gets that image (imported again: --force keeps it idempotent) through the canary.
    older = clouds.dev_image(1, OLDER)
    deploy(clouds, older, "run-1", OLDER).promote()
    newer = deploy(clouds, clouds.dev_image(2), "run-2")
    newer.promote()
    back = rollout.Rollout("prod", clouds)
    image = back.import_image(older, OLDER)
    back.canary(image, 0, "run-3")
    assert back.outputs_written["model-version"] == OLDER
    assert back.outputs_written["canary"] == "true"
    assert back.outputs_written["stable-revision"] == newer.outputs_written["revision"]
    # A new revision (the rollout id), not the deactivated one that ran the same image.
    assert back.outputs_written["revision"] not in clouds.inactive


def test_a_failed_canary_is_rolled_back_and_the_next_run_starts_from_the_stable_one(
    clouds: Clouds, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy(clouds, clouds.dev_image(1), "run-1")
    v1 = clouds.outputs["stable_revision"]
    failed = deploy(clouds, clouds.dev_image(2), "run-2").outputs_written["revision"]

    code = rollout.main(
        ["rollback", "prod", "--reason", "smoke test of the canary failed"], runner=clouds
    )
    assert code == 1
    err = capsys.readouterr()
    assert f"canary {failed} of prod failed (smoke test of the canary failed)" in err.err
    assert f"traffic stays on {v1}" in err.err
    assert "::error::" in err.out
    # Traffic and label through the provider: the canary has neither; the stable keeps 100 %.
    assert clouds.traffic[-1] == [(v1, 100, "stable")]
    assert clouds.outputs["canary_url"] == ""
    assert clouds.outputs["stable_revision"] == v1
    # Deactivated with the Azure CLI, since the provider cannot.
    assert clouds.inactive == {failed}

    # The next run reads the serving revision from the stack output: the old one, not the
    # failed canary, which stays out of the traffic list.
    third = deploy(clouds, clouds.dev_image(3), "run-3")
    v3 = third.outputs_written["revision"]
    assert third.outputs_written["stable-revision"] == v1
    assert clouds.traffic[-1] == [(v1, 100, "stable"), (v3, 0, "canary")]
    assert failed not in {v3, v1}


def test_retrying_a_rolled_back_image_gets_a_fresh_revision(clouds: Clouds) -> None:
    # Azure silently ignores a template that reuses an inactive revision's suffix
    # (microsoft/azure-container-apps#650): a retry must not meet the deactivated canary.
    deploy(clouds, clouds.dev_image(1), "run-1")
    image = clouds.dev_image(2)
    failed = deploy(clouds, image, "run-2").outputs_written["revision"]
    assert rollout.main(["rollback", "prod", "--reason", "smoke"], runner=clouds) == 1
    retry = deploy(clouds, image, "run-2-attempt-2").outputs_written["revision"]
    assert retry != failed
    assert retry not in clouds.inactive


def test_rollback_after_a_failed_phase_1_update_still_deactivates_the_canary(
    clouds: Clouds,
) -> None:
    deploy(clouds, clouds.dev_image(1), "run-1")
    v1 = clouds.outputs["stable_revision"]
    steps = rollout.Rollout("prod", clouds)
    image = steps.import_image(clouds.dev_image(2), VERSION)
    clouds.fail_up = True
    with pytest.raises(rollout.RolloutError, match="pulumi up of prod failed"):
        steps.canary(image, 0, "run-2")
    clouds.fail_up = False
    # The outputs still name the old revisions (pulumi/pulumi#14621); the rollback's own update
    # names the canary it removes, which is then deactivated.
    message = steps.rollback("pulumi up of the canary failed")
    (canary,) = clouds.inactive
    assert canary != v1
    assert f"traffic stays on {v1}" in message
    assert clouds.traffic[-1] == [(v1, 100, "stable")]


def test_a_failed_first_deploy_has_nothing_to_roll_back(clouds: Clouds) -> None:
    deploy(clouds, clouds.dev_image(1), "run-1")
    calls = len(clouds.calls)
    message = rollout.Rollout("prod", clouds).rollback("smoke test failed")
    assert "no earlier revision to roll back to" in message
    # Only the config was read: no update, and the only revision is not deactivated.
    assert [c[:3] for c in clouds.calls[calls:]] == [["pulumi", "config", "get"]]
    assert clouds.inactive == set()


def test_a_failed_deactivation_is_reported_not_hidden(clouds: Clouds) -> None:
    deploy(clouds, clouds.dev_image(1), "run-1")
    deploy(clouds, clouds.dev_image(2), "run-2")
    clouds.fail_deactivate = True
    message = rollout.Rollout("prod", clouds).rollback("smoke")
    assert message.endswith("failed")
    assert "; but: deactivating banknote-prod--" in message


def test_promotion_succeeds_even_if_the_old_revision_stays_active(
    clouds: Clouds, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy(clouds, clouds.dev_image(1), "run-1")
    deploy(clouds, clouds.dev_image(2), "run-2")
    clouds.fail_deactivate = True
    assert rollout.main(["promote", "prod"], runner=clouds) == 0
    assert "::warning::" in capsys.readouterr().out


# -- the command line ---------------------------------------------------------------------------
def test_step_outputs_go_to_github_output(
    clouds: Clouds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    source = clouds.dev_image(1)
    code = rollout.main(
        ["import-image", "prod", "--source", source, "--model-version", VERSION],
        runner=clouds,
    )
    assert code == 0
    (line,) = out.read_text().splitlines()
    assert line.startswith("image=")
    assert line.endswith("@" + source.split("@")[1])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["import-image", "prod", "--source", "banknote-api:latest", "--model-version", "v"],
         "--source must be an image by digest"),
        (["import-image", "prod", "--source", f"{DEV_REGISTRY}/banknote-api:latest",
          "--model-version", "v"],
         "--source must be an image by digest"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_1(
    clouds: Clouds, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert rollout.main(argv, runner=clouds) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]
    assert clouds.calls == []
