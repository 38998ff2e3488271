"""scripts/rollout.py, the prod rollout and its rollback, against stand-ins for the Pulumi CLI and
the Azure CLI. The stand-in `pulumi up` runs the real app program under Pulumi's mocks with the
stack's config (tests/infra/pulumi_harness.py), so the traffic each phase declares is the
program's, not the stand-in's.

What the stand-ins keep of the real tools:
- `pulumi up --target <component URN>` creates only that component and its children
  (pulumi/pulumi#7605, "Include children when targeting components"); here it also leaves the
  stack outputs alone, the less convenient reading, so the script must not rely on them.
- After a failed update only the outputs it set change (pulumi/pulumi#14621).
- `az acr import` keeps the digest (learn.microsoft.com "Import container images to a container
  registry"); `az containerapp revision deactivate` is the only way to deactivate a revision,
  as the provider has no revision resource.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import rollout
from tests.infra.pulumi_harness import CONTAINER_APP, IMAGE, REGISTRY, ROOT, plain, run_app

DEV_REGISTRY = "banknotedev0123abcd.azurecr.io"
VERSION = "20261126T041500Z-3856aec"


def dev_image(n: int) -> str:
    return f"{DEV_REGISTRY}/banknote-api@sha256:{str(n) * 64}"


@dataclass
class Clouds:
    """The Pulumi backend and Azure, as far as the rollout touches them."""

    model_dir: Path
    config: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    state: list[dict[str, Any]] = field(default_factory=list)
    calls: list[list[str]] = field(default_factory=list)
    traffic: list[list[tuple[str, int, str]]] = field(default_factory=list)
    inactive: set[str] = field(default_factory=set)
    imported: dict[str, str] = field(default_factory=dict)  # target image ref -> source
    fail_up: bool = False
    fail_deactivate: bool = False

    def __post_init__(self) -> None:
        committed = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
        self.config = {k.removeprefix("banknote:"): str(v) for k, v in committed.items()}
        self.config["modelDir"] = str(self.model_dir)

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
        if args[:2] == ["config", "get"]:
            value = self.config.get(args[4])
            return (0, value + "\n") if value is not None else (255, "error: not set")
        if args[:2] == ["stack", "output"]:
            return 0, json.dumps(self.outputs)
        if args[:2] == ["stack", "export"]:
            return 0, json.dumps({"deployment": {"resources": self.state}})
        if args[0] == "up":
            return self.up(args)
        raise AssertionError(f"unexpected pulumi {args}")

    def up(self, args: list[str]) -> tuple[int, str]:
        if self.fail_up:
            return 255, "error: update failed"
        run = run_app("prod", self.config)
        if run.error is not None:
            return 255, f"error: {run.error}"
        if "--target" in args:
            assert run.of_type(IMAGE) == []  # nothing is built for the targeted update
            urn = args[args.index("--target") + 1]
            assert urn == "urn:pulumi:prod::banknote::banknote:app:PrivateRegistry::registry"
            wanted = [r for r in run.custom() if r.type == REGISTRY or "identity" in r.name]
            self.state = [{"type": r.type, "outputs": r.state} for r in wanted]
            return 0, "targeted update"
        self.state = [{"type": r.type, "outputs": r.state} for r in run.custom()]
        self.outputs = dict(run.exports)
        entries = plain(run.one(CONTAINER_APP).inputs)["configuration"]["ingress"]["traffic"]
        self.traffic.append([(e["revisionName"], int(e["weight"]), e["label"]) for e in entries])
        return 0, "update done"

    def az(self, args: list[str]) -> tuple[int, str]:
        if args[:2] == ["acr", "import"]:
            source = args[args.index("--source") + 1]
            name = args[args.index("--name") + 1]
            self.imported[f"{name}.azurecr.io/banknote-api@{source.split('@')[1]}"] = source
            return 0, ""
        if args[:3] == ["containerapp", "revision", "deactivate"]:
            if self.fail_deactivate:
                return 1, "ERROR: deactivation failed"
            self.inactive.add(args[args.index("--revision") + 1])
            return 0, ""
        raise AssertionError(f"unexpected az {args}")


@pytest.fixture
def clouds(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Clouds:
    monkeypatch.chdir(ROOT)  # where the workflow runs the script
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    return Clouds(model_dir)


def deploy(clouds: Clouds, n: int, rollout_id: str) -> rollout.Rollout:
    """import-image + canary of dev's image number n; returns the rollout (outputs inside)."""
    steps = rollout.Rollout("prod", clouds)
    image = steps.import_image(dev_image(n), VERSION)
    steps.canary(image, 0, rollout_id)
    return steps


def test_the_same_image_is_imported_into_prods_registry(clouds: Clouds) -> None:
    steps = rollout.Rollout("prod", clouds)
    image = steps.import_image(dev_image(1), VERSION)
    # The registry is created by a targeted update first, before anything else of the stack,
    # with dev's image as the config's image, so that the program builds nothing.
    assert clouds.calls[0] == ["pulumi", "config", "set", "--stack", "prod", "image", dev_image(1)]
    up = clouds.calls[1]
    assert up[:4] == ["pulumi", "up", "--yes", "--skip-preview"]
    assert "--target" in up
    (registry,) = [r["outputs"] for r in clouds.state if r["type"] == REGISTRY]
    (import_call,) = [c for c in clouds.calls if c[:3] == ["az", "acr", "import"]]
    assert import_call == [
        "az", "acr", "import",
        "--name", registry["name"],
        "--source", dev_image(1),
        "--image", f"banknote-api:{VERSION}",
        "--force",
    ]  # fmt: skip
    # Same digest, prod's own registry: the image dev smoke-tested, not a rebuild.
    assert image == f"{registry['loginServer']}/banknote-api@sha256:{'1' * 64}"
    assert clouds.imported == {image: dev_image(1)}
    assert steps.outputs_written == {"image": image}


def test_first_deploy_then_a_canary_then_its_promotion(clouds: Clouds) -> None:
    first = deploy(clouds, 1, "run-1")
    # Nothing serves yet: no canary, the new revision takes everything, smoke the app's URL.
    assert first.outputs_written["canary"] == "false"
    v1 = first.outputs_written["revision"]
    assert clouds.traffic[-1] == [(v1, 100, "stable")]
    assert first.outputs_written["target-url"] == clouds.outputs["url"]
    first.promote()
    assert len(clouds.traffic) == 1  # nothing to promote: no second update

    second = deploy(clouds, 2, "run-2")
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


def test_a_failed_canary_is_rolled_back_and_the_next_run_starts_from_the_stable_one(
    clouds: Clouds, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy(clouds, 1, "run-1")
    v1 = clouds.outputs["stable_revision"]
    failed = deploy(clouds, 2, "run-2").outputs_written["revision"]

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
    third = deploy(clouds, 3, "run-3")
    v3 = third.outputs_written["revision"]
    assert third.outputs_written["stable-revision"] == v1
    assert clouds.traffic[-1] == [(v1, 100, "stable"), (v3, 0, "canary")]
    assert failed not in {v3, v1}


def test_retrying_a_rolled_back_image_gets_a_fresh_revision(clouds: Clouds) -> None:
    # Azure silently ignores a template that reuses an inactive revision's suffix
    # (microsoft/azure-container-apps#650): a retry must not meet the deactivated canary.
    deploy(clouds, 1, "run-1")
    failed = deploy(clouds, 2, "run-2").outputs_written["revision"]
    assert rollout.main(["rollback", "prod", "--reason", "smoke"], runner=clouds) == 1
    retry = deploy(clouds, 2, "run-2-attempt-2").outputs_written["revision"]
    assert retry != failed
    assert retry not in clouds.inactive


def test_rollback_after_a_failed_phase_1_update_still_deactivates_the_canary(
    clouds: Clouds,
) -> None:
    deploy(clouds, 1, "run-1")
    v1 = clouds.outputs["stable_revision"]
    steps = rollout.Rollout("prod", clouds)
    image = steps.import_image(dev_image(2), VERSION)
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
    deploy(clouds, 1, "run-1")
    calls = len(clouds.calls)
    message = rollout.Rollout("prod", clouds).rollback("smoke test failed")
    assert "no earlier revision to roll back to" in message
    # Only the config was read: no update, and the only revision is not deactivated.
    assert [c[:3] for c in clouds.calls[calls:]] == [["pulumi", "config", "get"]]
    assert clouds.inactive == set()


def test_a_failed_deactivation_is_reported_not_hidden(clouds: Clouds) -> None:
    deploy(clouds, 1, "run-1")
    deploy(clouds, 2, "run-2")
    clouds.fail_deactivate = True
    message = rollout.Rollout("prod", clouds).rollback("smoke")
    assert message.endswith("failed")
    assert "; but: deactivating banknote-prod--" in message


def test_promotion_succeeds_even_if_the_old_revision_stays_active(
    clouds: Clouds, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy(clouds, 1, "run-1")
    deploy(clouds, 2, "run-2")
    clouds.fail_deactivate = True
    assert rollout.main(["promote", "prod"], runner=clouds) == 0
    assert "::warning::" in capsys.readouterr().out


def test_step_outputs_go_to_github_output(
    clouds: Clouds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    code = rollout.main(
        ["import-image", "prod", "--source", dev_image(1), "--model-version", VERSION],
        runner=clouds,
    )
    assert code == 0
    (line,) = out.read_text().splitlines()
    assert line.startswith("image=")
    assert line.endswith("@sha256:" + "1" * 64)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["import-image", "prod", "--source", "banknote-api:latest", "--model-version", "v"],
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
