"""The prod job: after dev's smoke test, in the environment `prod`, never cancelled, the
progressive rollout of dev's image, and the rollback when the canary fails, the job is
cancelled or it times out.

Which jobs run is simulated from the parsed workflows (tests/workflows/pipeline.py); the prod
job's steps are walked by tests/workflows/jobrun.py, which evaluates every `if:` and `env:` as a
runner would and runs scripts/pulumi_stack.py against the stand-in Pulumi CLI. The rollout
script's own behaviour (what each phase declares, the rollback) is tested against the real
program in tests/infra/test_infra_rollout_script.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra import container, containerapp
from infra.rollout import policy
from infra.rollout.prometheus import AZURE_MONITOR_AUDIENCE
from tests.workflows.jobrun import JobRun, World, run_job
from tests.workflows.pipeline import (
    VARS,
    dispatch,
    load_workflows,
    pull_request,
    push,
    ran,
    simulate,
    with_event_copy,
)
from tests.workflows.test_workflows_pr_stack_lifecycle import SETUP_MINUTES, SMOKE_MINUTES

DEV_IMAGE = "banknotedev0123abcd.azurecr.io/banknote-api@sha256:" + "1" * 64
VERSION = "20261126T041500Z-bbbbbbb"
# What deploy-dev hands on: the image it deployed and smoke-tested, and the version it serves.
NEEDS = {"deploy-dev": JobRun([], outputs={"image": DEV_IMAGE, "model-version": VERSION})}
MODEL = {"model-version": VERSION}
PROD_JOBS = {"deploy.yml:deploy-prod", "deploy.yml:prod-not-set-up"}


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return load_workflows()


@pytest.fixture
def prod(workflows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    job: dict[str, Any] = workflows["deploy.yml"]["jobs"]["deploy-prod"]
    return job


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path / "world")


def step(job: dict[str, Any], step_id: str) -> dict[str, Any]:
    (found,) = [s for s in job["steps"] if s.get("id") == step_id]
    return found


# -- when it runs -----------------------------------------------------------------------------
def test_prod_needs_devs_smoke_test_and_its_image(
    workflows: dict[str, dict[str, Any]], prod: dict[str, Any]
) -> None:
    assert prod["needs"] == "deploy-dev"
    dev = workflows["deploy.yml"]["jobs"]["deploy-dev"]
    # deploy-dev succeeds only if its smoke test did (no step may continue on error), and after
    # it only records the champion (.github/scripts/model_gate.py).
    names = [s.get("name", "") for s in dev["steps"]]
    smoke = next(i for i, s in enumerate(dev["steps"]) if "scripts/smoke.py" in s.get("run", ""))
    assert all("champion" in n or "Docker CLI" in n for n in names[smoke + 1 :]), names
    assert not any(s.get("continue-on-error") for s in dev["steps"])
    # The image prod promotes is the one dev deployed and smoke-tested, by digest, with the
    # version dev's update exported (and the job checked) for it.
    assert dev["outputs"]["image"] == "${{ steps.pulumi.outputs.image }}"
    assert dev["outputs"]["model-version"] == "${{ steps.pulumi.outputs.model_version }}"
    assert step(prod, "import")["env"]["DEV_IMAGE"] == "${{ needs.deploy-dev.outputs.image }}"
    assert prod["env"]["MODEL_VERSION"] == "${{ needs.deploy-dev.outputs.model-version }}"


@pytest.mark.parametrize("event", [push(), dispatch(**{"model-version": "v1"})])
def test_prod_follows_dev_on_main_and_stops_when_dev_fails(
    workflows: dict[str, dict[str, Any]], event: Any
) -> None:
    results = simulate(workflows, "deploy.yml", event)
    assert results["deploy.yml:deploy-dev"] == "success"
    assert results["deploy.yml:deploy-prod"] == "success"
    failed = simulate(
        workflows, "deploy.yml", with_event_copy(event, fail={"deploy.yml:deploy-dev"})
    )
    assert failed["deploy.yml:deploy-prod"] == "skipped"


def test_the_whole_chain_reaches_prod_only_from_main(workflows: dict[str, dict[str, Any]]) -> None:
    chain = ran(simulate(workflows, "analyze.yml", push()))
    assert "deploy.yml:deploy-prod" in chain
    for event in (
        pull_request(labels=("preview-stack",)),
        push("refs/heads/feature"),
        dispatch("refs/heads/feature"),
    ):
        for file in ("analyze.yml", "train.yml", "deploy.yml"):
            assert not ran(simulate(workflows, file, event)) & PROD_JOBS, (event.name, file)


def test_without_a_prod_stack_the_job_is_skipped_with_a_notice(
    workflows: dict[str, dict[str, Any]],
) -> None:
    # The repository variable AZURE_PROD_CLIENT_ID (the bootstrap prints it) turns prod on.
    off = {k: v for k, v in VARS.items() if k != "AZURE_PROD_CLIENT_ID"}
    results = simulate(workflows, "deploy.yml", with_event_copy(push(), vars=off))
    assert results["deploy.yml:deploy-prod"] == "skipped"
    assert results["deploy.yml:prod-not-set-up"] == "success"
    notice = workflows["deploy.yml"]["jobs"]["prod-not-set-up"]
    script = notice["steps"][0]["run"]
    assert "::notice::" in script
    assert "AZURE_PROD_CLIENT_ID is not set" in script
    assert notice["permissions"] == {}  # it touches nothing
    on = simulate(workflows, "deploy.yml", push())
    assert on["deploy.yml:prod-not-set-up"] == "skipped"


# -- where and how ------------------------------------------------------------------------------
def test_prod_runs_in_the_prod_environment_as_the_prod_identity(prod: dict[str, Any]) -> None:
    # The prod identity trusts the subject repo:<repo>:environment:prod and nothing else
    # (infra/bootstrap/targets.py); a repository can require reviewers on that environment.
    assert prod["environment"]["name"] == "prod"
    assert prod["environment"]["url"] == "${{ steps.promote.outputs.url }}"
    assert prod["env"]["ARM_CLIENT_ID"] == "${{ vars.AZURE_PROD_CLIENT_ID }}"
    # No artifact to download: prod deploys dev's image.
    assert prod["permissions"] == {"contents": "read", "id-token": "write"}


def test_prod_is_never_cancelled_and_outlasts_its_longest_rollout(prod: dict[str, Any]) -> None:
    # docs.github.com "Control the concurrency of workflows and jobs": one group per stack;
    # cancel-in-progress false, since a cancelled `pulumi up` leaves its lock behind.
    assert prod["concurrency"] == {"group": "pulumi-prod", "cancel-in-progress": False}
    # The budget, in minutes: the registry-only update of a first rollout (5) and the import (5);
    # the canary update, whose revision the error hook retries while AcrPull propagates, each
    # attempt waiting for the revision to provision (up to 5); the smoke test; the second login
    # (1); the judged steps at their longest holds (policy.MAX_TOTAL_HOLD_SECONDS bounds them),
    # each traffic move (2 at most, TRAFFIC_WAIT_SECONDS) and the update after the promotion
    # (10); the rollback (5, what GitHub allows after a cancel).
    attempts = container.PULL_RETRY_ATTEMPTS
    canary = attempts * (5 + container.PULL_RETRY_DELAY_SECONDS / 60)
    holds = policy.MAX_TOTAL_HOLD_SECONDS / 60
    moves = (len(policy.DEFAULT_STEPS) - 1) * 2
    budget = SETUP_MINUTES + 5 + 5 + canary + SMOKE_MINUTES + 1 + holds + moves + 10 + 5
    assert prod["timeout-minutes"] >= budget
    assert containerapp.MAX_INACTIVE_REVISIONS > 0


# -- the steps, walked as a runner would ------------------------------------------------------
def test_a_passing_canary_is_promoted(workflows: dict[str, dict[str, Any]], world: World) -> None:
    job = run_job(workflows["deploy.yml"], "deploy-prod", push(), world, MODEL, needs=NEEDS)
    assert job.ok, job.log()
    assert job.outcome("Import dev's image") == "success"
    assert job.outcome("Step 0") == "success"
    assert job.outcome("Smoke test the canary") == "success"
    assert job.outcome("Log in again") == "success"
    assert job.outcome("Steps 10 %") == "success"
    assert job.outcome("Roll back") == "skipped"
    # The stack was created with the Key Vault provider by the executed prepare step.
    assert "prod" in world.stacks()
    imported = next(s for s in job.steps if s.name.startswith("Import dev's image"))
    assert imported.env["DEV_IMAGE"] == DEV_IMAGE
    canary = next(s for s in job.steps if s.name.startswith("Step 0"))
    # The run id and attempt (attempt unset here): new for every run and every retry.
    assert canary.env["ROLLOUT_ID"] == f"{1000 + world.runners}-"


@pytest.mark.parametrize(
    ("failing", "reason", "skipped"),
    [
        ("Smoke test the canary", "the smoke test of the canary failed", ["Steps 10 %"]),
        (
            "Check the canary serves",
            "the canary serves another model version",
            ["Smoke test the canary", "Steps 10 %"],
        ),
        ("Step 0", "pulumi up of the canary failed", ["Smoke test the canary", "Steps 10 %"]),
        # A promotion that failed before it could roll back itself (a query error, say).
        ("Steps 10 %", "the promotion failed", []),
    ],
)
def test_a_failed_canary_is_rolled_back_and_fails_the_job(
    workflows: dict[str, dict[str, Any]],
    world: World,
    failing: str,
    reason: str,
    skipped: list[str],
) -> None:
    job = run_job(
        workflows["deploy.yml"], "deploy-prod", push(), world, MODEL, fail=(failing,), needs=NEEDS
    )
    assert not job.ok
    assert job.outcome(failing) == "failure"
    for name in skipped:
        assert job.outcome(name) == "skipped", name
    rollback = next(s for s in job.steps if s.name.startswith("Roll back"))
    assert rollback.outcome == "success"  # it runs; the script itself exits 1, saying why
    assert rollback.env["REASON"] == reason


def test_a_step_that_failed_the_gate_has_rolled_back_already(
    workflows: dict[str, dict[str, Any]], world: World
) -> None:
    # infra/rollout/run.py rolls back the moment a step fails its gate and writes
    # rolled-back=true before exiting 1: the job fails without a second rollback.
    job = run_job(
        workflows["deploy.yml"], "deploy-prod", push(), world, MODEL,
        fail=("Steps 10 %",), fail_outputs={"Steps 10 %": {"rolled-back": "true"}}, needs=NEEDS,
    )  # fmt: skip
    assert not job.ok
    assert job.outcome("Roll back") == "skipped"


@pytest.mark.parametrize(
    ("cancelled_at", "rolled_back"),
    [
        ("Import dev's image", False),  # no canary yet: nothing to undo
        ("Step 0", True),  # the canary's update may have made the revision
        ("Smoke test the canary", True),
        ("Log in again", True),
        ("Steps 10 %", True),  # mid-step: the canary may hold 10 or 50 %
    ],
)
def test_a_cancelled_or_timed_out_job_still_rolls_back(
    workflows: dict[str, dict[str, Any]], world: World, cancelled_at: str, rolled_back: bool
) -> None:
    # A person cancels the run, or the job reaches timeout-minutes, which cancels it the same
    # way (docs.github.com "Workflow syntax", jobs.<job_id>.timeout-minutes). GitHub then runs
    # only the steps whose `if` holds with cancelled() (docs.github.com "Workflow cancellation
    # reference").
    job = run_job(
        workflows["deploy.yml"], "deploy-prod", push(), world, MODEL,
        cancel=(cancelled_at,), needs=NEEDS,
    )  # fmt: skip
    assert job.outcome(cancelled_at) == "cancelled"
    where = next(i for i, s in enumerate(job.steps) if cancelled_at in s.name)
    later = job.steps[where + 1 :]
    rollback = next(s for s in later if s.name.startswith("Roll back"))
    assert rollback.outcome == ("success" if rolled_back else "skipped")
    assert all(s.outcome == "skipped" for s in later if s is not rollback)
    if rolled_back:
        assert rollback.env["REASON"] == "the job was cancelled or timed out"


def test_nothing_is_rolled_back_before_a_canary_exists(
    workflows: dict[str, dict[str, Any]], world: World
) -> None:
    job = run_job(
        workflows["deploy.yml"],
        "deploy-prod",
        push(),
        world,
        MODEL,
        fail=("Import dev's image",),
        needs=NEEDS,
    )
    assert not job.ok
    assert job.outcome("Step 0") == "skipped"
    assert job.outcome("Roll back") == "skipped"


def test_the_canary_is_smoke_tested_at_its_label_url_against_the_trained_version(
    prod: dict[str, Any],
) -> None:
    smoke = step(prod, "smoke")
    assert '--model-version "$MODEL_VERSION"' in smoke["run"]
    assert smoke["env"]["STACK_URL"] == "${{ steps.canary.outputs.target-url }}"
    # The job's MODEL_VERSION (dev's), for the version check and the smoke test alike.
    assert "MODEL_VERSION" not in smoke["env"]
    assert "MODEL_VERSION" not in step(prod, "version")["env"]
    assert "if" not in smoke  # runs, and fails the job, whenever step 0 succeeded
    steps = [s.get("id") for s in prod["steps"]]
    assert steps.index("canary") < steps.index("version") < steps.index("smoke")
    assert steps.index("smoke") < steps.index("promote")


def test_the_steps_log_in_again_with_the_gates_token_audience(prod: dict[str, Any]) -> None:
    # The holds can last 40 minutes after a canary update of its own: the second login gives the
    # Azure CLI fresh tokens for them, the gate's among them (its audience is the one the
    # gate's queries are sent with, infra/rollout/prometheus.py).
    names = [s.get("name", "") for s in prod["steps"]]
    logins = [
        i for i, s in enumerate(prod["steps"]) if s.get("uses") == "./.github/actions/azure-login"
    ]
    assert len(logins) == 2
    again = prod["steps"][logins[1]]
    assert again["with"]["token-resources"] == AZURE_MONITOR_AUDIENCE
    assert names.index(next(n for n in names if n.startswith("Smoke test"))) < logins[1]
    assert logins[1] + 1 == [s.get("id") for s in prod["steps"]].index("promote")
