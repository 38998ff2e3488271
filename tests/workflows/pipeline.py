"""Load the workflows as data and simulate which jobs a GitHub event would run.

The simulation follows what GitHub does with the parts the pipeline relies on: the triggers
(event, branches, activity types), `needs` ordering, job `if:` conditions (evaluated by
tests.workflows.expressions, implicit success() included) and local reusable-workflow calls,
whose jobs run in the caller's event context. Jobs listed in `fail` fail; every other job that
runs succeeds.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.workflows.expressions import Status, condition_holds, interpolate

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
ACTIONS_DIR = ROOT / ".github" / "actions"
LOCAL_WORKFLOW = re.compile(r"^\./\.github/workflows/(?P<file>[\w.-]+\.ya?ml)$")

# GitHub's default activity types for pull_request.
DEFAULT_PR_TYPES = ("opened", "synchronize", "reopened")


def load_yaml(path: Path) -> dict[str, Any]:
    """Parse a workflow or action file; pyyaml reads the key `on` as True, so it is renamed."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a mapping"
    if True in data:
        data["on"] = data.pop(True)
    return data


def load_workflows() -> dict[str, dict[str, Any]]:
    """Every workflow in .github/workflows by file name."""
    files = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])
    return {path.name: load_yaml(path) for path in files}


def load_actions() -> dict[str, dict[str, Any]]:
    """Every composite action in .github/actions by directory name."""
    return {path.parent.name: load_yaml(path) for path in sorted(ACTIONS_DIR.glob("*/action.yml"))}


def triggers(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """The `on:` section as a mapping (a bare list or string of events becomes keys)."""
    on = workflow["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on)


def called_file(job: Mapping[str, Any]) -> str | None:
    """The local workflow file a job calls, if it is a reusable-workflow call."""
    uses = job.get("uses")
    if uses is None:
        return None
    match = LOCAL_WORKFLOW.match(uses)
    assert match, f"only local reusable workflows are expected, got {uses!r}"
    return match["file"]


def steps_of(job: Mapping[str, Any], actions: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """A job's steps, with the steps of local composite actions expanded in place."""
    for step in job.get("steps", []):
        yield step
        uses = step.get("uses", "")
        if uses.startswith("./.github/actions/"):
            action = actions[uses.removeprefix("./.github/actions/").rstrip("/")]
            yield from steps_of(action["runs"], actions)


def uses_action(job: Mapping[str, Any], actions: Mapping[str, Any], name: str) -> list[dict]:
    """Steps of the job (composites expanded) that use `name`@..., e.g. 'azure/login'."""
    return [s for s in steps_of(job, actions) if s.get("uses", "").startswith(f"{name}@")]


def all_uses_lines() -> list[tuple[Path, int, str]]:
    """Every `uses:` line in workflows and composite actions, as (file, line number, text)."""
    found = []
    for path in [*WORKFLOW_DIR.glob("*.y*ml"), *ACTIONS_DIR.glob("*/action.yml")]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(r"^\s*(-\s+)?uses:", line):
                found.append((path, number, line.strip()))
    return found


# The repository variables the bootstrap prints (values as a real setup would have them).
VARS: dict[str, str] = {
    "AZURE_CLIENT_ID": "11111111-0000-4000-8000-000000000001",
    "AZURE_PR_CLIENT_ID": "22222222-0000-4000-8000-000000000002",
    "AZURE_PROD_CLIENT_ID": "33333333-0000-4000-8000-000000000003",
    "AZURE_TENANT_ID": "99999999-8888-7777-6666-555555555555",
    "AZURE_SUBSCRIPTION_ID": "00000000-1111-2222-3333-444444444444",
    "PULUMI_BACKEND_URL": "azblob://pulumi-state?storage_account=banknotestate08af8b4e",
    "PULUMI_SECRETS_PROVIDER": (
        "azurekeyvault://kvbanknotestate-08af8b4e.vault.azure.net/keys/pulumi-secrets"
    ),
    "AZURE_LOCATION": "westeurope",
}
PUSH_SHA = "a" * 40
HEAD_SHA = "b" * 40  # a pull request's head commit
MERGE_SHA = "c" * 40  # GitHub's test merge commit of that pull request: github.sha on PRs


@dataclass
class Event:
    """A GitHub event to simulate: its `github` context and the jobs forced to fail."""

    name: str
    ref: str = "refs/heads/main"
    repository: str = "owner/banknote"
    payload: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    fail: set[str] = field(default_factory=set)
    sha: str = PUSH_SHA
    vars: dict[str, str] = field(default_factory=lambda: dict(VARS))
    # Outputs of jobs that succeed, by "file:job" (their steps are not simulated here).
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    def context(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The expression contexts a job condition can read."""
        return {
            "github": {
                "event_name": self.name,
                "ref": self.ref,
                "ref_name": self.ref.rsplit("/", 1)[-1],
                "sha": self.sha,
                "repository": self.repository,
                "event": self.payload,
                "run_id": "1234",
                "token": "ghs_job_token",
            },
            "inputs": dict(inputs),
            "vars": dict(self.vars),
        }


def push(ref: str = "refs/heads/main") -> Event:
    """A push to a branch of the repository."""
    return Event("push", ref=ref, payload={"after": PUSH_SHA})


def dispatch(ref: str = "refs/heads/main", **inputs: Any) -> Event:
    """A run started by hand from a branch."""
    return Event("workflow_dispatch", ref=ref, inputs=inputs)


def schedule() -> Event:
    """A scheduled run: always on the default branch (docs.github.com, `schedule` event)."""
    return Event("schedule", payload={"schedule": "23 4 * * *"})


def pull_request(
    number: int = 7,
    action: str = "synchronize",
    labels: tuple[str, ...] = (),
    fork: bool = False,
    label: str | None = None,
    author: str = "octocat",
    state: str = "open",
) -> Event:
    """A pull_request event as GitHub sends it (the payload as of when the event happened).

    `github.sha` is the test merge commit, the PR's head commit is `pull_request.head.sha`
    (docs.github.com "Events that trigger workflows", pull_request: GITHUB_SHA "Last merge
    commit on the GITHUB_REF branch"); a fork's head repository differs from the base one.
    """
    repo = "owner/banknote"
    payload: dict[str, Any] = {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "state": "closed" if action == "closed" else state,
            "labels": [{"name": name} for name in labels],
            "user": {"login": author},
            "head": {
                "sha": HEAD_SHA,
                "ref": f"feature-{number}",
                "repo": {"full_name": "mallory/banknote" if fork else repo},
            },
            "base": {"ref": "main"},
        },
    }
    if label is not None:
        payload["label"] = {"name": label}
    return Event(
        "pull_request",
        ref=f"refs/pull/{number}/merge",
        repository=repo,
        payload=payload,
        sha=MERGE_SHA,
    )


def declared_inputs(
    workflow: Mapping[str, Any], trigger: str, given: Mapping[str, Any]
) -> dict[str, Any]:
    """The `inputs` context a run gets: the trigger's declared inputs with their defaults, then
    the values given, as the declared type (docs.github.com "Contexts", inputs context: "the
    input properties passed to ... a reusable workflow, or to a manually triggered workflow";
    a boolean input is a boolean). Inputs the trigger does not declare do not exist, so a
    `workflow_call`-only input is null in a run started by hand."""
    on = triggers(workflow).get(trigger)
    spec = (on.get("inputs") or {}) if isinstance(on, dict) else {}
    values: dict[str, Any] = {}
    for name, declared in spec.items():
        value = given.get(name, declared.get("default"))
        if declared.get("type") == "boolean" and isinstance(value, str):
            value = value.strip().lower() == "true"
        if value is not None:
            values[name] = value
    return values


def is_triggered(workflow: Mapping[str, Any], event: Event) -> bool:
    """Whether the event starts this workflow (paths filters aside)."""
    on = triggers(workflow)
    if event.name not in on:
        return False
    spec = on[event.name] or {}
    if event.name == "push":
        branch = event.ref.removeprefix("refs/heads/")
        return branch in spec.get("branches", [branch])
    if event.name == "pull_request":
        return event.payload["action"] in spec.get("types", DEFAULT_PR_TYPES)
    if event.name == "schedule":
        # Scheduled runs use the workflow file on the default branch only.
        return event.ref == "refs/heads/main"
    return True


def simulate(
    workflows: Mapping[str, Mapping[str, Any]],
    file: str,
    event: Event,
    inputs: Mapping[str, Any] | None = None,
    prefix: str = "",
) -> dict[str, str]:
    """Run a workflow's jobs for the event: {"file:job" or "caller>callee:job": result}.

    Results are "success", "failure" or "skipped". A calling job's result is "failure" when a
    job of the called workflow failed, else "success".
    """
    workflow = workflows[file]
    jobs: Mapping[str, Mapping[str, Any]] = workflow["jobs"]
    if inputs is None:  # the workflow the event started
        inputs = declared_inputs(workflow, event.name, event.inputs)
    else:  # called: `with:` is evaluated in the caller, then typed by the callee
        inputs = declared_inputs(workflow, "workflow_call", inputs)
    results: dict[str, str] = {}
    own: dict[str, str] = {}
    pending = list(jobs)
    while pending:
        ready = [j for j in pending if all(n in own for n in _needs(jobs[j]))]
        assert ready, f"{file}: jobs {pending} have needs that never resolve"
        for name in ready:
            pending.remove(name)
            needs = [own[n] for n in _needs(jobs[name])]
            status = Status(
                all_succeeded=all(r == "success" for r in needs),
                any_failed=any(r == "failure" for r in needs),
            )
            key = f"{prefix}{file}:{name}"
            job = jobs[name]
            context = event.context(inputs)
            context["needs"] = {
                n: {"result": own[n], "outputs": event.outputs.get(f"{file}:{n}", {})}
                for n in _needs(job)
            }
            if not condition_holds(job.get("if"), context, status):
                own[name] = results[key] = "skipped"
                continue
            callee = called_file(job)
            if callee is not None:
                given = {
                    name: interpolate(value, context) if isinstance(value, str) else value
                    for name, value in (job.get("with") or {}).items()
                }
                sub = simulate(workflows, callee, event, given, prefix=f"{key}>")
                results.update(sub)
                failed = key in event.fail or "failure" in sub.values()
                own[name] = results[key] = "failure" if failed else "success"
            else:
                own[name] = results[key] = "failure" if key in event.fail else "success"
    return results


def check_runs(workflows: Mapping[str, Mapping[str, Any]], event: Event) -> dict[str, str]:
    """The check runs an event creates, by check name: a job's `name` (a called workflow's job
    as "<caller> / <callee>"), and its conclusion, where a skipped job reports "success"
    (docs.github.com "Using conditions to control job execution")."""
    checks: dict[str, str] = {}
    for file, workflow in workflows.items():
        if not is_triggered(workflow, event):
            continue
        for key, result in simulate(workflows, file, event).items():
            names = []
            for part in key.split(">"):
                part_file, job_id = part.split(":")
                names.append(workflows[part_file]["jobs"][job_id].get("name", job_id))
            checks[" / ".join(names)] = "success" if result == "skipped" else result
    return checks


def ran(results: Mapping[str, str]) -> set[str]:
    """The short names (file:job of the innermost workflow) of jobs that ran."""
    return {key.split(">")[-1] for key, result in results.items() if result != "skipped"}


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def with_event_copy(event: Event, **changes: Any) -> Event:
    """A copy of an event with some fields replaced."""
    clone = copy.deepcopy(event)
    for name, value in changes.items():
        setattr(clone, name, value)
    return clone
