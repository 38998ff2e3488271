"""The prod rollout (infra/rollout/run.py, run as scripts/rollout.py) against stand-ins for the
Pulumi CLI and the Azure CLI (tests/infra/rollout_world.py): each test's checkouts share one
Pulumi backend and one Azure, as CI runners and a laptop do, and each `pulumi up` runs the real
program under Pulumi's mocks.

These tests promote with `rolloutSteps: 0,100` (the smoke test alone); the steps in between and
their gate run against a real Prometheus in tests/infra/test_infra_rollout_gate.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from infra import revisions
from infra.errors import ConfigError
from infra.rollout import run as rollout
from infra.rollout.prometheus import Prometheus
from tests.infra.conftest import Registries
from tests.infra.pulumi_harness import (
    CONTAINER_APP,
    IDENTITY,
    IMAGE,
    REGISTRY,
    ROLE_ASSIGNMENT,
    plain,
    run_app,
)
from tests.infra.rollout_world import (
    APP,
    DEV_REGISTRY,
    GROUP,
    VERSION,
    World,
    ci,
    committed_config,
    deploy,
    dev_image,
    release,
)

OLDER = "20261101T120000Z-1234567"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    with ExitStack() as servers:  # fresh registries for every test
        yield World(Registries(servers))


# -- the same image, in prod's own registry ------------------------------------------------------
def test_devs_image_cannot_be_deployed_to_prod_as_it_is(world: World) -> None:
    # The program takes an image only from the stack's own registry (the one its identity may
    # pull from), and prod's identity may only read dev's: hence the import.
    run = run_app("prod", {**committed_config(), "image": dev_image(world, 1)})
    assert isinstance(run.error, ConfigError)
    assert f"it is in {DEV_REGISTRY}" in str(run.error)
    assert "az acr import" in str(run.error)


def test_the_first_rollout_creates_the_registry_alone_then_imports_the_same_digest(
    world: World,
) -> None:
    source = dev_image(world, 1)
    runner = ci(world)
    image = rollout.Rollout("prod", runner).import_image(source, VERSION)

    # No registry yet: one update with registryOnly, which is removed again right after.
    assert [c[:3] for c in runner.calls[:5]] == [
        ["pulumi", "stack", "export"],
        ["pulumi", "config", "set"],
        ["pulumi", "up", "--yes"],
        ["pulumi", "config", "rm"],
        ["pulumi", "stack", "export"],
    ]
    assert runner.calls[1][-2:] == ["registryOnly", "true"]
    assert "registryOnly" not in runner.config
    (registry_only,) = world.runs
    # It declared the registry, the pull identity and its AcrPull, and nothing that serves or
    # builds; it read no artifact (there is none) and no image.
    assert {r.type for r in registry_only.custom()} == {REGISTRY, IDENTITY, ROLE_ASSIGNMENT}
    assert registry_only.of_type(IMAGE) == []
    assert set(world.backend.outputs) == {"registry", "resource_group"}

    (registry,) = [r["outputs"] for r in world.backend.state if r["type"] == REGISTRY]
    (import_call,) = [c for c in runner.calls if c[:3] == ["az", "acr", "import"]]
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
    copy = world.registries.server(registry["loginServer"])
    assert digest in copy.blobs["banknote-api"]


def test_the_canary_reads_the_model_version_from_the_copy_in_prods_registry(
    world: World,
) -> None:
    steps = deploy(world, dev_image(world, 1), "run-1")
    assert steps.outputs_written["model-version"] == VERSION
    canary = world.runs[-1]
    assert canary.of_type(IMAGE) == []  # nothing built
    containers = plain(canary.one(CONTAINER_APP).inputs)["template"]["containers"]
    (container,) = [c for c in containers if c["name"] == "api"]  # the other: metrics shipper
    assert container["image"] == world.backend.outputs["image"]
    # The label was read from prod's registry, by the digest the import kept.
    login_server = world.backend.outputs["registry"]
    digest = container["image"].split("@")[1]
    reads = [r["path"] for r in world.registries.server(login_server).requests]
    assert f"/v2/banknote-api/manifests/{digest}" in reads


def test_the_copy_cannot_be_named_before_it_is_imported(world: World) -> None:
    # The other half of the chicken-and-egg: with the registry there but the image not yet
    # imported, the program cannot read its label and refuses the update (previews too).
    steps = rollout.Rollout("prod", ci(world))
    steps.import_image(dev_image(world, 1), VERSION)
    not_imported = dev_image(world, 2).split("@")[1]
    with pytest.raises(rollout.RolloutError, match="pulumi up of prod failed"):
        steps.canary(f"{world.backend.outputs['registry']}/banknote-api@{not_imported}", "run-2")
    assert "MANIFEST_UNKNOWN" in str(world.runs[-1].error)


def test_later_rollouts_import_without_running_the_program(world: World) -> None:
    deploy(world, dev_image(world, 1), "run-1")
    runs = len(world.runs)
    image = rollout.Rollout("prod", ci(world)).import_image(dev_image(world, 2), VERSION)
    assert len(world.runs) == runs  # the registry exists: straight to `az acr import`
    assert image.startswith(world.backend.outputs["registry"] + "/banknote-api@sha256:")


def test_the_registry_only_update_is_refused_where_it_would_delete_a_service(
    world: World,
) -> None:
    deploy(world, dev_image(world, 1), "run-1")
    # Someone deleted the registry out of band: the state still holds the service.
    world.backend.state = [r for r in world.backend.state if r["type"] != REGISTRY]
    runs = len(world.runs)
    with pytest.raises(rollout.RolloutError, match="registry-only update would delete them"):
        rollout.Rollout("prod", ci(world)).import_image(dev_image(world, 2), VERSION)
    assert len(world.runs) == runs


def test_registry_only_is_removed_even_when_its_update_fails(world: World) -> None:
    world.fail_up = True
    runner = ci(world)
    with pytest.raises(rollout.RolloutError, match="pulumi up of prod failed"):
        rollout.Rollout("prod", runner).import_image(dev_image(world, 1), VERSION)
    assert "registryOnly" not in runner.config
    assert ["pulumi", "config", "rm", "--stack", "prod", "registryOnly"] in runner.calls


# -- canary, promotion, rollback: every runner a fresh checkout --------------------------------
def test_first_deploy_then_a_canary_then_its_promotion(world: World) -> None:
    first = deploy(world, dev_image(world, 1), "run-1")
    # Nothing serves yet: no canary, the new revision takes everything, smoke the app's URL.
    assert first.outputs_written["canary"] == "false"
    v1 = first.outputs_written["revision"]
    assert world.split() == [(v1, 100, "stable")]
    assert first.outputs_written["target-url"] == world.backend.outputs["url"]
    rollout.Rollout("prod", ci(world)).promote()  # nothing to promote
    assert world.split() == [(v1, 100, "stable")]

    second = deploy(world, dev_image(world, 2), "run-2")
    v2 = second.outputs_written["revision"]
    assert v2 != v1
    assert second.outputs_written["stable-revision"] == v1
    # Step 0: the serving revision keeps 100 %, the new one 0 % with the label canary.
    assert world.split() == [(v1, 100, "stable"), (v2, 0, "canary")]
    assert second.outputs_written["target-url"].startswith("https://banknote-prod---canary.")
    assert second.outputs_written["canary"] == "true"
    # The promotion runs in another job's checkout: it reads everything from Azure.
    promotion = rollout.Rollout("prod", ci(world))
    promotion.promote()
    assert world.split() == [(v2, 100, "stable")]
    assert world.active() == {v2}  # the old revision is deactivated, not deleted
    # The update after it declared what Azure has: Pulumi's state and outputs agree.
    assert world.backend.outputs["stable_revision"] == v2
    assert world.backend.outputs["canary_url"] == ""
    assert promotion.outputs_written["url"] == world.backend.outputs["url"]


def test_a_rollback_of_dev_reaches_prod_as_a_canary_of_the_older_image(world: World) -> None:
    # deploy.yml model-version: dev deploys an older version's image from its registry, and
    # prod gets that image (imported again: --force keeps it idempotent) through the canary.
    older = dev_image(world, 1, OLDER)
    first = release(world, older, "run-1", OLDER)
    newer = release(world, dev_image(world, 2), "run-2")
    back = deploy(world, older, "run-3", OLDER)
    assert back.outputs_written["model-version"] == OLDER
    assert back.outputs_written["canary"] == "true"
    assert back.outputs_written["stable-revision"] == newer
    # A new revision (the rollout id), not the deactivated one that ran the same image.
    assert back.outputs_written["revision"] != first
    assert world.active() == {newer, back.outputs_written["revision"]}


def test_a_failed_canary_is_rolled_back_and_the_next_run_starts_from_the_stable_one(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    v1 = release(world, dev_image(world, 1), "run-1")
    failed = deploy(world, dev_image(world, 2), "run-2").outputs_written["revision"]

    # The rollback step of the same job, or of any other checkout: it reads Azure, not config.
    code = rollout.main(
        ["rollback", "prod", "--reason", "the smoke test of the canary failed"],
        runner=world.checkout(),
    )
    assert code == 1
    err = capsys.readouterr()
    assert "the smoke test of the canary failed; rolled back" in err.err
    assert f"{v1} has 100 % of the traffic, {failed} has no traffic, no label" in err.err
    assert "::error::" in err.out
    assert world.split() == [(v1, 100, "stable")]
    assert world.active() == {v1}

    # The next run finds the same truth in Azure, whatever its checkout.
    third = deploy(world, dev_image(world, 3), "run-3")
    v3 = third.outputs_written["revision"]
    assert third.outputs_written["stable-revision"] == v1
    assert world.split() == [(v1, 100, "stable"), (v3, 0, "canary")]


def test_retrying_a_rolled_back_image_gets_a_fresh_revision(world: World) -> None:
    # Azure silently ignores a template that reuses a revision's suffix
    # (microsoft/azure-container-apps#650): a retry must not meet the deactivated canary.
    release(world, dev_image(world, 1), "run-1")
    image = dev_image(world, 2)
    failed = deploy(world, image, "run-2").outputs_written["revision"]
    rollout.Rollout("prod", world.checkout()).rollback("smoke")
    retry = deploy(world, image, "run-2-attempt-2").outputs_written["revision"]
    assert retry != failed
    assert retry in world.active()


def test_the_rollout_id_defaults_to_something_new_every_time(world: World) -> None:
    # Without --rollout-id the same image twice still gets two revisions: the id is the time
    # and a random part, never empty (an empty id would give a retry the failed one's suffix).
    release(world, dev_image(world, 1))
    image = dev_image(world, 2)
    first = deploy(world, image)
    rollout.Rollout("prod", world.checkout()).rollback("smoke")
    second = deploy(world, image)
    ids = [first.outputs_written["rollout-id"], second.outputs_written["rollout-id"]]
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", i) for i in ids), ids
    assert ids[0] != ids[1]
    assert first.outputs_written["revision"] != second.outputs_written["revision"]


def test_a_failed_update_leaves_stale_outputs_and_the_rollback_reads_azure(world: World) -> None:
    # Azure made the revision, then the update failed (its provisioning, say): the stack's
    # outputs still name the old revisions (pulumi/pulumi#15754), the traffic list does not.
    v1 = release(world, dev_image(world, 1), "run-1")
    steps = rollout.Rollout("prod", ci(world))
    image = steps.import_image(dev_image(world, 2), VERSION)
    world.azure.fail_after_put = True
    with pytest.raises(rollout.RolloutError, match="pulumi up of prod failed"):
        steps.canary(image, "run-2")
    world.azure.fail_after_put = False
    (canary,) = [r for r, _, label in world.split() if label == "canary"]
    assert world.backend.outputs["latest_revision"] == v1  # stale
    message = rollout.Rollout("prod", world.checkout()).rollback("pulumi up of the canary failed")
    assert f"{canary} has no traffic, no label and is deactivated" in message
    assert world.split() == [(v1, 100, "stable")]
    assert world.active() == {v1}


def test_a_failed_first_deploy_keeps_serving_and_says_so(world: World) -> None:
    # There is no earlier revision; deactivating the only one would leave nothing to answer.
    first = deploy(world, dev_image(world, 1), "run-1")
    v1 = first.outputs_written["revision"]
    message = rollout.Rollout("prod", world.checkout()).rollback("the smoke test failed")
    assert f"{v1} is the first revision of {APP} and keeps serving" in message
    assert world.split() == [(v1, 100, "stable")]
    assert world.active() == {v1}


def test_a_rollback_after_a_finished_promotion_changes_nothing(world: World) -> None:
    # The promotion moved all traffic, then the job failed on (say) the update after it: the new
    # revision serves, the old one is deactivated, and there is no canary left to undo.
    release(world, dev_image(world, 1), "run-1")
    v2 = release(world, dev_image(world, 2), "run-2")
    message = rollout.Rollout("prod", world.checkout()).rollback("the promotion failed")
    assert message == (
        f"the promotion failed; {v2} serves all traffic and there is no canary to roll back"
    )
    assert world.split() == [(v2, 100, "stable")]
    assert world.active() == {v2}


def test_a_failed_deactivation_is_reported_not_hidden(world: World) -> None:
    release(world, dev_image(world, 1), "run-1")
    deploy(world, dev_image(world, 2), "run-2")
    world.fail_deactivate = True
    message = rollout.Rollout("prod", world.checkout()).rollback("smoke")
    assert "; but: deactivating banknote-prod--" in message


def test_promotion_succeeds_even_if_the_old_revision_stays_active(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    release(world, dev_image(world, 1), "run-1")
    deploy(world, dev_image(world, 2), "run-2")
    world.fail_deactivate = True
    assert rollout.main(["promote", "prod"], runner=ci(world)) == 0
    assert "::warning::" in capsys.readouterr().out


def test_the_canary_starts_by_clearing_what_an_unfinished_rollout_left(world: World) -> None:
    # A job killed at its 50 % step (runner lost, no rollback): half the traffic still goes to
    # that canary, which is active. The next canary first gives the stable revision 100 % and
    # deactivates every other revision, then adds its own at 0 %.
    v1 = release(world, dev_image(world, 1), "run-1")
    abandoned = deploy(world, dev_image(world, 2), "run-2").outputs_written["revision"]
    app = world.azure.app(GROUP, APP)
    world.azure.patch(
        app.id,
        {"properties": {"configuration": {"ingress": {"traffic": [
            {"revisionName": v1, "weight": 50, "label": "stable"},
            {"revisionName": abandoned, "weight": 50, "label": "canary"},
        ]}}}},
    )  # fmt: skip
    v3 = deploy(world, dev_image(world, 3), "run-3").outputs_written["revision"]
    assert world.split() == [(v1, 100, "stable"), (v3, 0, "canary")]
    assert world.active() == {v1, v3}


def test_status_prints_what_serves(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    v1 = release(world, dev_image(world, 1), "run-1")
    v2 = deploy(world, dev_image(world, 2), "run-2").outputs_written["revision"]
    assert rollout.main(["status", "prod"], runner=world.checkout()) == 0
    out = capsys.readouterr().out
    assert f"{APP}: {v1} 100 % (stable), {v2} 0 % (canary)" in out
    assert f"active {v1} (100 %): {world.registries.of_stack('prod').login_server}" in out


def test_steps_with_a_gate_need_the_metrics_before_any_traffic_moves(world: World) -> None:
    # The committed config keeps the default steps (0, 10, 50, 100): with monitoring off the
    # stack exports no query endpoint and the gate has nothing to judge by, so nothing moves.
    world.committed = {"monitoring": "false"}
    release(world, dev_image(world, 1), "run-1")
    v2 = deploy(world, dev_image(world, 2), "run-2").outputs_written["revision"]
    before = world.split()
    with pytest.raises(rollout.RolloutError, match="exports no prometheus_query_endpoint"):
        rollout.Rollout("prod", world.checkout()).promote()
    assert world.split() == before
    assert v2 in world.active()


def judged(world: World, sleep: Any = lambda seconds: None) -> rollout.Rollout:
    """A promotion through judged steps whose metrics endpoint answers nothing (port 9)."""
    checkout = world.checkout()
    checkout.config.update(rolloutHoldSeconds="1", rolloutMaxHoldSeconds="2")
    return rollout.Rollout(
        "prod",
        checkout,
        sleep=sleep,
        metrics=lambda outputs, apps: Prometheus("http://127.0.0.1:9", timeout=2),
    )


def test_a_step_that_cannot_be_judged_is_rolled_back(world: World) -> None:
    v1 = release(world, dev_image(world, 1), "run-1")
    v2 = deploy(world, dev_image(world, 2), "run-2").outputs_written["revision"]
    steps = judged(world)
    with pytest.raises(rollout.RolloutError) as failed:
        steps.promote()
    assert str(failed.value).startswith(
        "step 1 of 2 (10 %) stopped: step 1 (10 %) cannot be judged"
    )
    assert f"rolled back: {v1} has 100 % of the traffic, {v2} has no traffic" in str(failed.value)
    assert steps.outputs_written["rolled-back"] == "true"
    assert world.split() == [(v1, 100, "stable")]
    assert world.active() == {v1}


def test_traffic_moved_by_someone_else_during_a_step_stops_the_rollout(world: World) -> None:
    v1 = release(world, dev_image(world, 1), "run-1")
    v2 = deploy(world, dev_image(world, 2), "run-2").outputs_written["revision"]
    app = world.azure.app(GROUP, APP)

    def meddle(seconds: float) -> None:  # a person sends half the traffic to the canary
        world.azure.patch(
            app.id,
            {"properties": {"configuration": {"ingress": {"traffic": [
                {"revisionName": v1, "weight": 50, "label": "stable"},
                {"revisionName": v2, "weight": 50, "label": "canary"},
            ]}}}},
        )  # fmt: skip

    with pytest.raises(rollout.RolloutError, match="changed outside the rollout during step 1"):
        judged(world, sleep=meddle).promote()
    assert world.split() == [(v1, 100, "stable")]


# -- any checkout gets the same answer; a plain `pulumi up` changes nothing that serves -------
def test_a_plain_pulumi_up_from_a_clean_checkout_changes_nothing_that_serves(
    world: World,
) -> None:
    # CI released v1 and v2 from runners whose Pulumi.prod.yaml files are gone.
    release(world, dev_image(world, 1), "run-1")
    v2 = release(world, dev_image(world, 2), "run-2")
    serving = world.backend.outputs["image"]
    app = world.azure.app(GROUP, APP)
    before = (world.split(), world.active(), app.latest_revision, dict(app.tags))
    puts = world.azure.puts
    laptop = world.checkout()  # the committed files only

    # 1. `pulumi up --stack prod` with the committed config: refused, nothing declared.
    code, message = laptop.up()
    assert code == 255
    assert "config image is required with platform containerapps" in message
    assert world.runs[-1].resources == []
    assert world.azure.puts == puts

    # 2. With the image that serves (`status` prints it): the same template, the same rollout
    #    id read back from Azure, so the same revision; the traffic list as Azure has it.
    laptop.config["image"] = serving
    assert laptop.up() == (0, "update done")
    assert (world.split(), world.active(), app.latest_revision, dict(app.tags)) == before
    assert world.backend.outputs["stable_revision"] == v2

    # 3. A preview of another image shows a canary at 0 % and changes nothing at all.
    other = rollout.Rollout("prod", ci(world)).import_image(dev_image(world, 3), VERSION)
    laptop.config["image"] = other
    assert laptop.up(preview=True) == (0, "update done")
    assert (world.split(), world.active(), app.latest_revision) == before[:3]

    # 4. And its update adds that revision at 0 % next to v2, which keeps all the traffic.
    assert laptop.up() == (0, "update done")
    v3 = app.latest_revision
    assert world.split() == [(v2, 100, "stable"), (v3, 0, "canary")]

    # 5. Any other checkout sees it and can roll it back: the answer is in Azure.
    message = rollout.Rollout("prod", world.checkout()).rollback("not meant for prod")
    assert f"{v3} has no traffic, no label and is deactivated" in message
    assert world.split() == [(v2, 100, "stable")]


def test_an_update_during_a_rollout_is_refused(world: World) -> None:
    # While a canary holds a share, no update may add another revision: it would have to take
    # that share away.
    v1 = release(world, dev_image(world, 1), "run-1")
    v2 = deploy(world, dev_image(world, 2), "run-2").outputs_written["revision"]
    app = world.azure.app(GROUP, APP)
    world.azure.patch(
        app.id,
        {"properties": {"configuration": {"ingress": {"traffic": [
            {"revisionName": v1, "weight": 90, "label": "stable"},
            {"revisionName": v2, "weight": 10, "label": "canary"},
        ]}}}},
    )  # fmt: skip
    laptop = world.checkout()
    laptop.config["image"] = rollout.Rollout("prod", ci(world)).import_image(
        dev_image(world, 3), VERSION
    )
    code, message = laptop.up()
    assert code == 255
    assert f"{v2} has 10 % as the canary of a rollout that has not finished" in message
    assert world.split() == [(v1, 90, "stable"), (v2, 10, "canary")]


def test_a_checkout_with_traffic_keys_from_an_older_rollout_is_told_so(world: World) -> None:
    release(world, dev_image(world, 1), "run-1")
    laptop = world.checkout()
    laptop.config.update(image=world.backend.outputs["image"], canaryWeight="10")
    code, message = laptop.up()
    assert code == 255
    assert "config canaryWeight is no longer read" in message
    assert "`pulumi config rm canaryWeight`" in message


# -- the command line ---------------------------------------------------------------------------
def test_step_outputs_go_to_github_output(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    source = dev_image(world, 1)
    code = rollout.main(
        ["import-image", "prod", "--source", source, "--model-version", VERSION],
        runner=ci(world),
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
        (["status", "prod"], "stack prod has no container app yet"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_1(
    world: World, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert rollout.main(argv, runner=world.checkout()) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]


def test_the_script_runs_the_package_from_any_directory(tmp_path: Path) -> None:
    # deploy.yml runs `.venv/bin/python scripts/rollout.py ...` from the repository root; the
    # script puts the root on sys.path itself, so it works from anywhere.
    import subprocess
    import sys

    from tests.infra.pulumi_harness import ROOT

    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "rollout.py"), "--help"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for command in ("import-image", "canary", "promote", "rollback", "status"):
        assert command in result.stdout
    assert revisions.CANARY_LABEL == "canary"
