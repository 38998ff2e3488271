"""PR stacks must not outlive their PR: GitHub's concurrency queue, the PR gate script, the
scheduled sweep, and job timeouts measured against the work a Pulumi job may have to finish."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import container
from scripts import pulumi_stack
from tests.workflows.expressions import interpolate
from tests.workflows.jobrun import World, pr_json, run_job
from tests.workflows.pipeline import ROOT, load_workflows, pull_request, schedule

# .github/scripts is no package (the workflows run its files as scripts): load it by path.
_spec = importlib.util.spec_from_file_location("pr_gate", ROOT / ".github/scripts/pr_gate.py")
assert _spec is not None
assert _spec.loader is not None
pr_gate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pr_gate)


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return load_workflows()


def queue(arrivals: list[tuple[str, str]]) -> dict[str, str]:
    """GitHub's concurrency rule for jobs queued while the first of their group still runs:
    "When a concurrent job or workflow is queued, if another job or workflow using the same
    concurrency group in the repository is in progress, the queued job or workflow will be
    pending. Any previously pending job or workflow in the concurrency group will be canceled"
    (docs.github.com, "Control the concurrency of workflows and jobs"), whatever
    cancel-in-progress says. Returns each job's fate: "ran" or "cancelled"."""
    running: dict[str, str] = {}
    pending: dict[str, str] = {}
    fate: dict[str, str] = {}
    for name, group in arrivals:
        key = group.lower()  # group names are case insensitive
        if key not in running:
            running[key] = name
            fate[name] = "ran"
            continue
        if key in pending:
            fate[pending[key]] = "cancelled"
        pending[key] = name
        fate[name] = "ran"  # once the running one ends, unless cancelled before
    return fate


def group(workflows: dict[str, dict[str, Any]], file: str, job: str, event: Any) -> str:
    return interpolate(workflows[file]["jobs"][job]["concurrency"]["group"], event.context({}))


def test_the_queue_model_cancels_an_older_pending_job() -> None:
    assert queue([("a", "g"), ("b", "G"), ("c", "g")]) == {
        "a": "ran",
        "b": "cancelled",
        "c": "ran",
    }


def test_a_pending_destroy_is_never_cancelled_by_a_later_update(
    workflows: dict[str, dict[str, Any]],
) -> None:
    # PR 7's stack is being updated; the PR closes (destroy queued); then a late update of the
    # same PR is queued (a train stage that finished after the close).
    update = group(workflows, "deploy.yml", "pr-stack", pull_request(7))
    destroy = group(workflows, "pr-stack-cleanup.yml", "destroy", pull_request(7, action="closed"))
    fate = queue([("update", update), ("destroy", destroy), ("late update", update)])
    assert fate["destroy"] == "ran"
    # The late update runs, but its gate asks the API and skips the update of a closed PR
    # (test_workflows_pulumi_runs.py); a destroy that meets a running update waits for its
    # lock (scripts/pulumi_stack.py destroy).
    assert fate["late update"] == "ran"


def test_updates_of_different_prs_and_dev_do_not_queue_behind_each_other(
    workflows: dict[str, dict[str, Any]],
) -> None:
    groups = {
        group(workflows, "deploy.yml", "pr-stack", pull_request(7)),
        group(workflows, "deploy.yml", "pr-stack", pull_request(8)),
        group(workflows, "pr-stack-cleanup.yml", "destroy", pull_request(7, action="closed")),
        workflows["deploy.yml"]["jobs"]["deploy-dev"]["concurrency"]["group"],
    }
    assert len(groups) == 4


# -- .github/scripts/pr_gate.py ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pr", "head", "wanted"),
    [
        (pr_json(7), None, True),
        (pr_json(7), pr_json(7)["head"]["sha"], True),
        (pr_json(7, state="closed", merged=True), None, False),
        (pr_json(7, labels=("bug",)), None, False),
        (pr_json(7, labels=("preview-stack", "bug")), None, True),
        (pr_json(7), "d" * 40, False),
    ],
)
def test_the_gate_wants_a_stack_only_for_an_open_labelled_pr_at_this_commit(
    pr: dict[str, Any], head: str | None, wanted: bool
) -> None:
    assert pr_gate.decide(pr, head_sha=head)[0] is wanted


def gate(stdin: str, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    output = tmp_path / "output"
    result = subprocess.run(
        [sys.executable, str(ROOT / ".github/scripts/pr_gate.py"), *args],
        input=stdin,
        env={"GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    return result, output.read_text() if output.exists() else ""


def test_the_gate_script_sets_the_step_output(tmp_path: Path) -> None:
    result, output = gate(json.dumps(pr_json(7, state="closed", merged=True)), tmp_path)
    assert result.returncode == 0
    assert output == "deploy=false\n"
    assert "::notice::PR #7 is closed (merged)" in result.stdout
    (tmp_path / "again").mkdir()
    result, output = gate(json.dumps(pr_json(7)), tmp_path / "again", "--head-sha", "b" * 40)
    assert output == "deploy=true\n"


@pytest.mark.parametrize("answer", ["not json", '{"message": "Bad credentials"}'])
def test_the_gate_fails_on_an_api_error_instead_of_guessing(tmp_path: Path, answer: str) -> None:
    result, output = gate(answer, tmp_path)
    assert result.returncode == 1
    assert output == ""
    assert result.stderr.startswith("pr_gate: ")
    assert result.stderr.count("\n") == 1


# -- timeouts: a job timeout cancels a running `pulumi up` --------------------------------------
# GitHub cancels a job at its timeout-minutes, and a cancelled `pulumi up` leaves its lock and
# pending operations behind (docs/deploy/pipeline.md#timeouts-and-recovery). So every timeout must
# exceed the longest the job's work can legitimately take. The budget of one update of this program,
# in minutes, from what it does: build and push the image (pip installs the serving wheels: 10),
# create registry, identity and grant (5), then the container group, whose create the error hook
# retries PULL_RETRY_ATTEMPTS times PULL_RETRY_DELAY_SECONDS apart while AcrPull propagates, each
# attempt waiting for ACI's own provisioning (up to 5 minutes an attempt). Setup around it:
# checkout, venv from the pip cache, model download, CLI (10). Smoke test: its default wait (5).
SETUP_MINUTES = 10
SMOKE_MINUTES = 5


def update_minutes() -> float:
    attempts = container.PULL_RETRY_ATTEMPTS
    container_group = attempts * (5 + container.PULL_RETRY_DELAY_SECONDS / 60)
    return 10 + 5 + container_group


def test_update_jobs_outlast_the_longest_update(workflows: dict[str, dict[str, Any]]) -> None:
    budget = SETUP_MINUTES + update_minutes() + SMOKE_MINUTES
    for job in ("deploy-dev", "pr-stack"):
        assert workflows["deploy.yml"]["jobs"][job]["timeout-minutes"] >= budget, job


def test_a_destroy_waits_longer_than_any_update_holds_the_lock(
    workflows: dict[str, dict[str, Any]],
) -> None:
    # The destroy waits on the lock of an update that is running when the PR closes; that
    # update cannot hold it longer than its job's timeout.
    update_timeout = workflows["deploy.yml"]["jobs"]["pr-stack"]["timeout-minutes"]
    assert update_timeout <= pulumi_stack.LOCK_WAIT_SECONDS / 60
    destroy_minutes = 15  # deletes: container group, identity, grant, registry
    cleanup = workflows["pr-stack-cleanup.yml"]["jobs"]["destroy"]["timeout-minutes"]
    assert cleanup >= SETUP_MINUTES + pulumi_stack.LOCK_WAIT_SECONDS / 60 + destroy_minutes
    # The sweep starts no destroy after --max-minutes, so one always has time to finish.
    sweep = workflows["pr-stack-sweep.yml"]["jobs"]["sweep"]
    run = next(s["run"] for s in sweep["steps"] if "pr_stack_sweep.py" in s.get("run", ""))
    max_minutes = float(run.rsplit("--max-minutes", 1)[1].split()[0])
    assert sweep["timeout-minutes"] >= SETUP_MINUTES + max_minutes + destroy_minutes


def test_no_pulumi_step_has_a_shorter_timeout_of_its_own(
    workflows: dict[str, dict[str, Any]],
) -> None:
    for file, workflow in workflows.items():
        for name, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                if "pulumi" in str(step.get("uses", "")) + str(step.get("run", "")):
                    assert "timeout-minutes" not in step, f"{file}:{name}: {step.get('name')}"


# -- .github/scripts/pr_stack_sweep.py, run whole against stand-ins ----------------------------
def deployed_pr_stacks(
    workflows: dict[str, dict[str, Any]], tmp_path: Path, numbers: tuple[int, ...]
) -> World:
    """A world where each of these open, labelled PRs has deployed its stack."""
    world = World(tmp_path / "world")
    model = {"model-version": world.model_version}
    for number in numbers:
        world.set_pr(number, pr_json(number))
        job = run_job(workflows["deploy.yml"], "pr-stack", pull_request(number), world, model)
        assert job.ok, job.log()
    return world


def test_the_sweep_removes_stale_stacks_and_keeps_wanted_ones(
    workflows: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    world = deployed_pr_stacks(workflows, tmp_path, (7, 8, 9, 10, 11))
    world.set_pr(7, pr_json(7, state="closed", merged=True))  # merged; its cleanup failed
    world.set_pr(8, pr_json(8, labels=()))  # label removed
    world.set_pr(9, pr_json(9))  # still wanted
    world.set_pr(10)  # no such PR any more (404)
    # pr-11 is being destroyed by its cleanup right now: left for the next sweep.
    world.set_pr(11, pr_json(11, state="closed"))
    state = json.loads((world.backend / "stacks.json").read_text())
    state["pr-11"]["locks"] = 1
    (world.backend / "stacks.json").write_text(json.dumps(state))

    sweep = run_job(workflows["pr-stack-sweep.yml"], "sweep", schedule(), world)
    assert sweep.ok, sweep.log()
    assert sorted(world.stacks()) == ["pr-11", "pr-9"]
    assert "pr-11 is locked by another run; left for the next sweep" in sweep.log()
    destroyed = [o["stack"] for o in world.operations() if o["command"] == "destroy"]
    assert sorted(destroyed) == ["pr-10", "pr-11", "pr-7", "pr-8"]  # pr-11: tried once


# -- only a 404 means "the PR is gone" ----------------------------------------------------------
# `gh api` exits 1 for every HTTP error and for a failure before any status (cli/cli
# internal/ghcmd/cmd.go); only its stderr line "gh: <message> (HTTP <status>)" tells a 404 from
# the rest (pkg/cmd/api/api.go, processResponse). tests/workflows/fake_github.py answers so.
NO_NETWORK = {
    "gh_exit": 1,
    "gh_stderr": "error connecting to api.github.com\n"
    "check your internet connection or https://githubstatus.com",
}


@pytest.fixture
def sweep_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """.github/scripts/pr_stack_sweep.py, with the stand-in gh first on PATH."""
    monkeypatch.syspath_prepend(str(ROOT / ".github/scripts"))
    spec = importlib.util.spec_from_file_location(
        "pr_stack_sweep", ROOT / ".github/scripts/pr_stack_sweep.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    fake = Path(__file__).resolve().parent / "fake_github.py"
    gh.write_text(f'#!/usr/bin/env bash\nexec "{sys.executable}" "{fake}" "$@"\n')
    gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    state = tmp_path / "github.json"
    state.write_text(json.dumps({"prs": {}, "calls": []}))
    monkeypatch.setenv("FAKE_GH_STATE", str(state))
    return module


def _answer_pr(number: int, answer: dict[str, Any] | None) -> None:
    state_file = Path(os.environ["FAKE_GH_STATE"])
    state = json.loads(state_file.read_text())
    state["prs"][str(number)] = [answer] if answer is not None else []
    state_file.write_text(json.dumps(state))


def test_a_404_is_a_gone_pr(sweep_module: Any) -> None:
    _answer_pr(10, None)
    assert sweep_module.pull_request("owner/repo", "10") is None
    _answer_pr(10, {"http_status": 404})  # a 404 whose body has no message
    assert sweep_module.pull_request("owner/repo", "10") is None


def test_an_answered_pr_is_returned_as_it_is(sweep_module: Any) -> None:
    _answer_pr(7, pr_json(7))
    assert sweep_module.pull_request("owner/repo", "7") == pr_json(7)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"http_status": 403, "message": "Resource not accessible by integration"}, "HTTP 403"),
        ({"http_status": 403, "message": "API rate limit exceeded for installation"}, "rate"),
        ({"http_status": 401, "message": "Bad credentials"}, "HTTP 401"),
        ({"http_status": 502}, "gh: HTTP 502"),
        ({"http_status": 500, "message": "Not Found in cache"}, "HTTP 500"),
        (NO_NETWORK, "error connecting to api.github.com"),
        ({"gh_exit": 4, "gh_stderr": ""}, "exit code 4"),
        ({"message": "a 200 that is no pull request"}, "not a pull request"),
    ],
    ids=["403", "rate-limit", "401", "502-html", "500-with-not-found", "network", "auth", "200"],
)
def test_any_other_answer_is_an_error_not_a_gone_pr(
    sweep_module: Any, answer: dict[str, Any], said: str
) -> None:
    _answer_pr(8, answer)
    with pytest.raises(sweep_module.GitHubError, match=re.escape(said)):
        sweep_module.pull_request("owner/repo", "8")


def test_the_sweep_keeps_stacks_the_api_said_nothing_about_and_fails(
    workflows: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    world = deployed_pr_stacks(workflows, tmp_path, (7, 8, 9, 10, 11))
    world.set_pr(7, pr_json(7, state="closed"))
    world.set_pr(8, {"http_status": 403, "message": "Resource not accessible by integration"})
    world.set_pr(9, {"http_status": 502})
    world.set_pr(10)  # 404: no such PR any more
    world.set_pr(11, NO_NETWORK)

    sweep = run_job(workflows["pr-stack-sweep.yml"], "sweep", schedule(), world)
    assert not sweep.ok
    # The stacks the API answered about are handled, whatever came before or after them.
    destroyed = [o["stack"] for o in world.operations() if o["command"] == "destroy"]
    assert sorted(destroyed) == ["pr-10", "pr-7"]
    assert sorted(world.stacks()) == ["pr-11", "pr-8", "pr-9"]
    log = sweep.log()
    for stack, said in (
        ("pr-8", "Resource not accessible by integration (HTTP 403)"),
        ("pr-9", "gh: HTTP 502"),
        ("pr-11", "error connecting to api.github.com"),
    ):
        line = next(x for x in log.splitlines() if x.startswith(f"::error::{stack} "))
        assert said in line, line
