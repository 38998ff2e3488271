"""The three stages: names, order, triggers, and that a failed stage never reaches the next.

Which jobs run for an event is simulated from the parsed workflows (tests/workflows/pipeline.py):
triggers, `needs`, `if:` conditions and reusable-workflow calls, as GitHub evaluates them.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from tests.workflows.pipeline import (
    ROOT,
    Event,
    called_file,
    check_runs,
    dispatch,
    is_triggered,
    load_workflows,
    pull_request,
    push,
    ran,
    schedule,
    simulate,
    triggers,
    with_event_copy,
)

STAGES = [
    ("analyze.yml", "MLOps workflow - Analyze Python Code"),
    ("train.yml", "MLOps workflow - Train Model"),
    ("deploy.yml", "MLOps workflow - Build Image and Deploy"),
]
DEPLOY_JOBS = {"deploy.yml:preview", "deploy.yml:pr-stack", "deploy.yml:deploy-dev"}
# Every job that logs in to Azure, in any workflow.
CLOUD_JOBS = DEPLOY_JOBS | {
    "deploy.yml:deploy-prod",
    "pr-stack-cleanup.yml:destroy",
    "pr-stack-sweep.yml:sweep",
}


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return load_workflows()


def run_chain(workflows: dict[str, dict[str, Any]], event: Event) -> set[str]:
    """The jobs an event runs, starting from every workflow it triggers."""
    jobs: set[str] = set()
    for file, workflow in workflows.items():
        if is_triggered(workflow, event):
            jobs |= ran(simulate(workflows, file, event))
    return jobs


def test_stages_keep_the_original_names(workflows: dict[str, dict[str, Any]]) -> None:
    for file, name in STAGES:
        assert workflows[file]["name"] == name


def test_stages_call_each_other_in_order(workflows: dict[str, dict[str, Any]]) -> None:
    # Follow the calls from the workflow that pushes and pull requests start. The only other
    # one they start is the docs site's check, which calls nothing (test below).
    entry = [f for f, w in workflows.items() if {"push", "pull_request"} <= triggers(w).keys()]
    assert sorted(entry) == ["analyze.yml", "docs.yml"]
    order, file = [], "analyze.yml"
    while file is not None:
        order.append(workflows[file]["name"])
        calls = [called_file(job) for job in workflows[file]["jobs"].values()]
        callees = [c for c in calls if c is not None]
        assert len(callees) <= 1, f"{file} calls more than one stage: {callees}"
        file = callees[0] if callees else None
    assert order == [name for _, name in STAGES]


def test_every_stage_can_be_started_by_hand(workflows: dict[str, dict[str, Any]]) -> None:
    for file, _ in STAGES:
        assert "workflow_dispatch" in triggers(workflows[file]), file


def test_later_stages_start_only_from_the_previous_stage(
    workflows: dict[str, dict[str, Any]],
) -> None:
    # No push/PR/workflow_run trigger of their own: they run when called, or by hand.
    for file, _ in STAGES[1:]:
        assert set(triggers(workflows[file])) == {"workflow_call", "workflow_dispatch"}, file
    for file, workflow in workflows.items():
        assert "workflow_run" not in triggers(workflow), f"{file}: workflow_run chains on failure"
        assert "pull_request_target" not in triggers(workflow), file


def test_a_stage_calls_the_next_only_after_all_its_jobs(
    workflows: dict[str, dict[str, Any]],
) -> None:
    for file, _ in STAGES[:2]:
        jobs = workflows[file]["jobs"]
        callers = [name for name, job in jobs.items() if called_file(job)]
        assert len(callers) == 1, file
        caller = jobs[callers[0]]
        own = set(jobs) - set(callers)
        needs = caller["needs"]
        assert set([needs] if isinstance(needs, str) else needs) == own, file
        # No status function may let the next stage run after a failure.
        assert not re.search(r"always\(|failure\(|cancelled\(", str(caller.get("if", ""))), file


def test_no_failure_is_ignored_in_the_stages(workflows: dict[str, dict[str, Any]]) -> None:
    # continue-on-error would let a failed gate pass. Not even the champion's download may
    # fail quietly: a champion that cannot be had is a verdict of its own (model_gate.py).
    for file, _ in STAGES:
        for name, job in workflows[file]["jobs"].items():
            assert not job.get("continue-on-error"), f"{file}:{name}"
            for step in job.get("steps", []):
                assert not step.get("continue-on-error"), f"{file}:{name}: {step.get('name')}"


@pytest.mark.parametrize(
    "failing",
    [
        "analyze.yml:lint",
        "analyze.yml:test",
        "analyze.yml:train>train.yml:train",
    ],
)
@pytest.mark.parametrize("event", [push(), pull_request(labels=("preview-stack",)), dispatch()])
def test_a_failed_stage_stops_the_chain(
    workflows: dict[str, dict[str, Any]], failing: str, event: Event
) -> None:
    event = with_event_copy(event, fail={failing})
    results = simulate(workflows, "analyze.yml", event)
    assert results[failing] == "failure"
    assert not DEPLOY_JOBS & ran(results), results
    if failing != "analyze.yml:train>train.yml:train":
        assert results["analyze.yml:train"] == "skipped"


def test_push_to_main_trains_and_deploys_dev(workflows: dict[str, dict[str, Any]]) -> None:
    jobs = run_chain(workflows, push())
    assert {"analyze.yml:lint", "analyze.yml:test", "train.yml:train"} <= jobs
    assert jobs & DEPLOY_JOBS == {"deploy.yml:deploy-dev"}


def test_push_to_another_branch_runs_nothing(workflows: dict[str, dict[str, Any]]) -> None:
    assert run_chain(workflows, push("refs/heads/feature")) == set()


def test_pull_request_previews_dev_and_never_updates_it(
    workflows: dict[str, dict[str, Any]],
) -> None:
    # The pr-stack job runs on every PR of this repository, and asks the GitHub API whether
    # the PR is open and labelled before anything else (test_workflows_pulumi_runs.py).
    jobs = run_chain(workflows, pull_request())
    assert {"analyze.yml:lint", "analyze.yml:test", "train.yml:train"} <= jobs
    assert jobs & DEPLOY_JOBS == {"deploy.yml:preview", "deploy.yml:pr-stack"}


def test_preview_stack_label_deploys_without_rerunning_the_pipeline(
    workflows: dict[str, dict[str, Any]],
) -> None:
    event = pull_request(action="labeled", labels=("preview-stack",), label="preview-stack")
    # find-run found the PR's successful pipeline run of its head commit...
    found = with_event_copy(event, outputs={"pr-stack-label.yml:find-run": {"run-id": "99"}})
    assert run_chain(workflows, found) == {
        "pr-stack-label.yml:find-run",
        "pr-stack-label.yml:deploy",  # calls deploy.yml with that run's model
        "deploy.yml:pr-stack",  # and no preview of dev
    }
    # ...or found none (no source change, or a red run): nothing more runs.
    assert run_chain(workflows, event) == {"pr-stack-label.yml:find-run"}


def test_other_labels_start_nothing(workflows: dict[str, dict[str, Any]]) -> None:
    event = pull_request(action="labeled", labels=("bug",), label="bug")
    assert run_chain(workflows, event) == set()


PR_ACTIONS = [
    "opened",
    "synchronize",
    "reopened",
    "labeled",
    "unlabeled",
    "edited",
    "ready_for_review",
    "converted_to_draft",
    "assigned",
    "review_requested",
    "closed",
]


@pytest.mark.parametrize("action", PR_ACTIONS)
def test_required_checks_are_never_skipped(
    workflows: dict[str, dict[str, Any]], action: str
) -> None:
    # "A job that is skipped will report its status as 'Success'. It will not prevent a pull
    # request from merging, even if it is a required check." (docs.github.com "Using
    # conditions to control job execution"). So whenever Analyze runs, lint and test run.
    event = pull_request(action=action, labels=("bug",), label="bug")
    analyze = workflows["analyze.yml"]
    if is_triggered(analyze, event):
        results = simulate(workflows, "analyze.yml", event)
        assert results["analyze.yml:lint"] == "success", action
        assert results["analyze.yml:test"] == "success", action
    for job in analyze["jobs"].values():
        assert "if" not in job or called_file(job), "lint and test must not be conditional"


def test_labelling_a_red_pull_request_keeps_its_checks_red(
    workflows: dict[str, dict[str, Any]],
) -> None:
    # The latest check run of a name is the one a PR shows: a push whose lint failed, then
    # a label. No run of a required check's name may come after it and report success.
    red = with_event_copy(pull_request(action="synchronize"), fail={"analyze.yml:lint"})
    latest: dict[str, str] = {}
    for event in (red, pull_request(action="labeled", labels=("bug",), label="bug")):
        latest.update(check_runs(workflows, event))
    assert latest["Lint (make lint)"] == "failure"
    # The label workflow's skipped jobs carry names of their own.
    analyze_names = {
        job.get("name", name) for name, job in workflows["analyze.yml"]["jobs"].items()
    }
    label_names = set(check_runs(workflows, pull_request(action="labeled", label="bug")))
    assert not analyze_names & label_names


def test_dependabot_pull_requests_never_reach_azure(
    workflows: dict[str, dict[str, Any]],
) -> None:
    # Dependabot's runs get a read-only token and no OIDC (docs.github.com "Automating
    # Dependabot with GitHub Actions"); the jobs decide on the PR's author, which stays
    # dependabot[bot] when a person re-runs the workflow or pushes to its branch.
    for action, label in (("opened", None), ("labeled", "preview-stack"), ("closed", None)):
        event = pull_request(
            action=action, labels=("preview-stack",), label=label, author="dependabot[bot]"
        )
        jobs = run_chain(workflows, event)
        assert not jobs & CLOUD_JOBS, (action, jobs)
        assert "pr-stack-label.yml:find-run" not in jobs
    # ...while its updates are linted, tested and trained like any other change.
    jobs = run_chain(workflows, pull_request(author="dependabot[bot]"))
    assert {"analyze.yml:lint", "analyze.yml:test", "train.yml:train"} <= jobs


def test_the_schedule_sweeps_pr_stacks_and_updates_the_lock(
    workflows: dict[str, dict[str, Any]],
) -> None:
    assert run_chain(workflows, schedule()) == {
        "pr-stack-sweep.yml:sweep",
        "lock-update.yml:lock",
    }


def test_forked_pull_requests_never_reach_a_cloud_job(
    workflows: dict[str, dict[str, Any]],
) -> None:
    for action in ("opened", "synchronize", "closed", "unlabeled", "labeled"):
        event = pull_request(
            action=action, labels=("preview-stack",), fork=True, label="preview-stack"
        )
        jobs = run_chain(workflows, event)
        assert not jobs & (CLOUD_JOBS | {"train.yml:deploy"}), (action, jobs)
        assert "pr-stack-label.yml:find-run" not in jobs
    # ...while their code is still linted, tested and trained.
    assert "train.yml:train" in run_chain(workflows, pull_request(fork=True))


def test_manual_runs_continue_down_the_chain(workflows: dict[str, dict[str, Any]]) -> None:
    analyze = ran(simulate(workflows, "analyze.yml", dispatch()))
    assert {"train.yml:train", "deploy.yml:deploy-dev"} <= analyze
    train = ran(simulate(workflows, "train.yml", dispatch()))
    assert train == {
        "train.yml:train",
        "train.yml:model-gate",
        "train.yml:deploy",
        "deploy.yml:deploy-dev",
        "deploy.yml:deploy-prod",  # after dev's smoke test (tests/workflows/test_workflows_prod.py)
    }
    # A model version started by hand (a rollback of dev) goes on to prod through the canary.
    deploy = ran(simulate(workflows, "deploy.yml", dispatch(**{"model-version": "v1"})))
    assert deploy == {"deploy.yml:deploy-dev", "deploy.yml:deploy-prod"}


def test_manual_runs_off_main_never_update_dev(workflows: dict[str, dict[str, Any]]) -> None:
    for file in ("analyze.yml", "train.yml", "deploy.yml"):
        jobs = ran(simulate(workflows, file, dispatch("refs/heads/feature")))
        assert not jobs & (DEPLOY_JOBS | {"deploy.yml:deploy-prod"}), (file, jobs)


def test_closing_or_unlabelling_a_pr_removes_its_stack(
    workflows: dict[str, dict[str, Any]],
) -> None:
    for event in (
        pull_request(action="closed", labels=("preview-stack",)),
        pull_request(action="closed"),  # the label may have gone; the stack may still exist
        pull_request(action="unlabeled", label="preview-stack"),
    ):
        assert run_chain(workflows, event) == {"pr-stack-cleanup.yml:destroy"}
    assert run_chain(workflows, pull_request(action="unlabeled", label="bug")) == set()


def test_paths_filters_are_the_same_for_push_and_pull_request(
    workflows: dict[str, dict[str, Any]],
) -> None:
    on = triggers(workflows["analyze.yml"])
    assert on["push"]["paths"] == on["pull_request"]["paths"]
    assert "paths-ignore" not in on["push"]
    assert "paths-ignore" not in on["pull_request"]


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """GitHub's path filter glob: ** spans directories, * and ? stay within one."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def test_glob_semantics() -> None:
    assert glob_to_regex("**/*.py").match("a.py")
    assert glob_to_regex("**/*.py").match("x/y/a.py")
    assert glob_to_regex("model/**").match("model/sub/a.txt")
    assert not glob_to_regex("Pulumi.*.yaml").match("Pulumi.dev/x.yaml")
    assert not glob_to_regex("Dockerfile").match("sub/Dockerfile")


REQUIRED_PATHS = [
    "model/train.py",
    "api/main.py",
    "infra/__main__.py",
    "infra/bootstrap/__main__.py",
    "bench/bench_api.py",
    "data/data_banknote_authentication.txt",
    "data/README.md",
    "Dockerfile",
    ".dockerignore",
    "requirements/dev-3.11.txt",
    "requirements/run-3.13.txt",
    "requirements/serve.txt",
    "pyproject.toml",
    "Makefile",
    "Pulumi.yaml",
    "Pulumi.dev.yaml",
    "scripts/smoke.py",
    "tests/api/test_predict.py",
    ".github/workflows/deploy.yml",
    ".github/actions/setup-python/action.yml",
    ".github/scripts/model_gate.py",
]


@pytest.mark.parametrize("path", REQUIRED_PATHS)
def test_paths_filters_cover_what_the_pipeline_builds(
    workflows: dict[str, dict[str, Any]], path: str
) -> None:
    patterns = triggers(workflows["analyze.yml"])["push"]["paths"]
    assert any(glob_to_regex(p).match(path) for p in patterns), path


def test_paths_filters_cover_every_tracked_source_file(
    workflows: dict[str, dict[str, Any]],
) -> None:
    patterns = [glob_to_regex(p) for p in triggers(workflows["analyze.yml"])["push"]["paths"]]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    watched = re.compile(r"^(model|api|infra|data|requirements|tests)/|\.py$")
    for path in filter(watched.search, tracked):
        assert any(p.match(path) for p in patterns), path


SITE = ["docs/index.md", "docs/deploy/first-deploy.md", "mkdocs.yml"]
DOCS_ONLY = ["README.md", *SITE]


@pytest.mark.parametrize("path", [*DOCS_ONLY, "LICENSE"])
def test_documentation_changes_do_not_run_the_pipeline(
    workflows: dict[str, dict[str, Any]], path: str
) -> None:
    # A typo fix must not train a model and redeploy dev...
    patterns = triggers(workflows["analyze.yml"])["push"]["paths"]
    assert not any(glob_to_regex(p).match(path) for p in patterns), path


@pytest.mark.parametrize("path", SITE)
def test_documentation_changes_are_checked_and_published(
    workflows: dict[str, dict[str, Any]], path: str
) -> None:
    # ...but it must not reach main unchecked either: every pull request runs the docs check
    # (no paths filter, so it can be a required check, and README.md is checked too), and a
    # push to main that changes the site publishes it.
    docs = workflows["docs.yml"]
    on = triggers(docs)
    assert "paths" not in (on["pull_request"] or {})
    assert any(glob_to_regex(p).match(path) for p in on["push"]["paths"]), path
    jobs = ran(simulate(workflows, "docs.yml", pull_request()))
    assert jobs == {"docs.yml:check"}
    jobs = ran(simulate(workflows, "docs.yml", push()))
    assert jobs == {"docs.yml:check", "docs.yml:build", "docs.yml:deploy"}
    assert ran(simulate(workflows, "docs.yml", dispatch("refs/heads/feature"))) == {
        "docs.yml:check"
    }


def test_the_docs_check_runs_the_site_build_and_the_docs_tests(
    workflows: dict[str, dict[str, Any]],
) -> None:
    check = workflows["docs.yml"]["jobs"]["check"]
    assert "if" not in check, "a required check must run whenever its workflow runs"
    runs = [step.get("run", "") for step in check["steps"]]
    assert "make docs" in runs
    assert any("pytest" in run and run.split()[-1:] == ["tests/docs"] for run in runs), runs
    assert all(called_file(job) is None for job in workflows["docs.yml"]["jobs"].values())
    # The publishing jobs reach no cloud: only GitHub Pages.
    assert not {f"docs.yml:{name}" for name in workflows["docs.yml"]["jobs"]} & CLOUD_JOBS


def test_make_lint_builds_the_docs_site_strictly() -> None:
    # So `make test` (and CI's .ci/run, and "Analyze Python Code") fail on a broken link too.
    lint = (ROOT / "scripts" / "lint.sh").read_text(encoding="utf-8")
    assert "make --no-print-directory docs" in lint
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    docs = re.search(r"^docs:.*\n\t(.*)$", makefile, re.MULTILINE)
    assert docs, "the Makefile has a docs target"
    assert "mkdocs build --strict" in docs[1]
