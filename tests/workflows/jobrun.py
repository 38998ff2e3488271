"""Run one workflow job's steps as a GitHub runner would, as far as they decide whether and how
Pulumi runs, against stand-ins for the GitHub API (`gh`) and the Pulumi CLI (tests/pulumi_cli).

What is executed for real: the job's and workflow's `env:` (expressions evaluated), every step's
`if:` (implicit success(), `steps.<id>.outputs`), and the `run:` scripts that ask the GitHub API
or run Pulumi (.github/scripts/pr_gate.py, scripts/pulumi_stack.py,
.github/scripts/pr_stack_sweep.py) in a fresh checkout with their step outputs written to
$GITHUB_OUTPUT. `pulumi/actions` steps are modelled on the pinned release's source (v7.0.0,
src/main.ts `runAction`; see `pulumi_action`). Every other step (checkout, setup, Azure login,
model download, smoke test, comments) is recorded as run and successful, not executed.

Each call of `run_job` is a fresh runner: a new checkout (only committed files, so no
Pulumi.<stack>.yaml a previous job wrote) and a new Pulumi workspace. The Pulumi backend and the
GitHub API's answers live in a `World` shared by the jobs of one test, as the blob container
and GitHub outlive a runner.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests import pulumi_cli
from tests.workflows.expressions import Status, condition_holds, interpolate
from tests.workflows.pipeline import HEAD_SHA, ROOT, Event, declared_inputs

# Steps whose scripts are executed: they decide whether and how Pulumi runs.
EXECUTED_SCRIPTS = ("pr_gate.py", "pulumi_stack.py", "pr_stack_sweep.py")
PULUMI_VERSION = "3.272.0"
COMMITTED = ("Pulumi.yaml", "Pulumi.dev.yaml")

FAKE_GH = """
import json, os, sys
state_file = os.environ["FAKE_GH_STATE"]
state = json.load(open(state_file))
args = sys.argv[1:]
state.setdefault("calls", []).append(args)
out = ""
code = 0
if args[:1] == ["api"] and "/pulls/" in args[1]:
    number = args[1].rsplit("/", 1)[1]
    answers = state["prs"].get(number)
    if not answers:
        sys.stderr.write("gh: Not Found (HTTP 404)\\n")
        code = 1
    else:
        out = json.dumps(answers[0])
        if len(answers) > 1:
            answers.pop(0)
elif args[:1] == ["api"]:
    out = "[]"
json.dump(state, open(state_file, "w"))
print(out)
sys.exit(code)
"""


def pr_json(
    number: int = 7,
    *,
    state: str = "open",
    labels: tuple[str, ...] = ("preview-stack",),
    head_sha: str = HEAD_SHA,
    merged: bool = False,
) -> dict[str, Any]:
    """A pull request as the REST API's "Get a pull request" returns it (the fields used)."""
    return {
        "number": number,
        "state": state,
        "merged": merged,
        "labels": [{"name": name} for name in labels],
        "head": {"sha": head_sha},
    }


@dataclass
class World:
    """What outlives a runner: the Pulumi backend and the GitHub API's answers about PRs."""

    root: Path
    model_version: str = "20261126T041500Z-bbbbbbb"
    runners: int = 0

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.backend = self.root / "backend"
        self.gh_state = self.root / "github.json"
        self.gh_state.write_text(json.dumps({"prs": {}, "calls": []}))

    def set_pr(self, number: int, *answers: dict[str, Any]) -> None:
        """What GET /repos/{repo}/pulls/{number} answers, in order; the last one repeats."""
        state = json.loads(self.gh_state.read_text())
        state["prs"][str(number)] = list(answers)
        self.gh_state.write_text(json.dumps(state))

    def stacks(self) -> dict[str, dict[str, Any]]:
        path = self.backend / "stacks.json"
        data: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
        return data

    def operations(self) -> list[dict[str, Any]]:
        return pulumi_cli.operations(self.backend)


@dataclass
class StepRun:
    """One step as the runner saw it."""

    name: str
    outcome: str  # success, failure or skipped
    executed: bool  # its script really ran (not only recorded)
    outputs: dict[str, str] = field(default_factory=dict)
    log: str = ""


@dataclass
class JobRun:
    """The steps of one job run, in order."""

    steps: list[StepRun]

    @property
    def ok(self) -> bool:
        return all(step.outcome != "failure" for step in self.steps)

    def outcome(self, name_part: str) -> str:
        """The outcome of the one step whose name contains `name_part`."""
        found = [s for s in self.steps if name_part in s.name]
        assert len(found) == 1, f"{name_part!r} matches {[s.name for s in found]}"
        return found[0].outcome

    def log(self) -> str:
        return "\n".join(f"--- {s.name} [{s.outcome}]\n{s.log}" for s in self.steps)


def _evaluate_env(env: Mapping[str, Any] | None, context: dict[str, Any]) -> dict[str, str]:
    return {key: interpolate(str(value), context) for key, value in (env or {}).items()}


def _with_inputs(step: Mapping[str, Any], context: dict[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in (step.get("with") or {}).items():
        if isinstance(value, bool):
            values[key] = "true" if value else "false"
        else:
            values[key] = interpolate(str(value), context)
    return values


def _read_outputs(path: Path) -> dict[str, str]:
    outputs = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        if "=" in line:
            key, value = line.split("=", 1)
            outputs[key] = value
    return outputs


def pulumi_action(
    inputs: Mapping[str, str], env: dict[str, str], cwd: Path, world: World
) -> tuple[bool, dict[str, str], str]:
    """What pulumi/actions v7.0.0 does for a step with a `command` (src/main.ts `runAction`).

    `pulumi login <cloud-url>`; then with `upsert: true` LocalWorkspace.createOrSelectStack (a
    `stack select`, and on "not found" a `stack init` that alone receives `--secrets-provider`,
    sdk/nodejs/automation/localWorkspace.ts `createStack`), else LocalWorkspace.selectStack
    (`stack select --stack`, no secrets provider); `config-map` through `setAllConfig`; the
    command; with `remove: true` after a destroy, `removeStack`.
    """
    log: list[str] = []

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["pulumi", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
        log.append(f"$ pulumi {' '.join(args)}\n{result.stdout}{result.stderr}")
        return result

    stack = inputs["stack-name"]
    if inputs.get("cloud-url"):
        cli("login", inputs["cloud-url"])
    if cli("stack", "select", "--stack", stack).returncode != 0:
        if inputs.get("upsert") != "true":
            return False, {}, "\n".join(log)
        create = ["stack", "init", stack]
        if inputs.get("secrets-provider"):
            create += ["--secrets-provider", inputs["secrets-provider"]]
        if cli(*create).returncode != 0:
            return False, {}, "\n".join(log)
    config = yaml.safe_load(inputs.get("config-map") or "") or {}
    if config:
        pairs = [f"{key}={item['value']}" for key, item in config.items()]
        cli("config", "set-all", "--stack", stack, *[f"--plaintext={p}" for p in pairs])
        (world.root / f"config-{stack}.json").write_text(json.dumps(config))
    command = inputs["command"]
    args = {
        "up": ["up", "--yes", "--skip-preview"],
        "preview": ["preview"],
        "destroy": ["destroy", "--yes", "--skip-preview"],
        "refresh": ["refresh", "--yes", "--skip-preview"],
    }[command]
    if cli(*args, "--stack", stack).returncode != 0:
        return False, {}, "\n".join(log)
    if command == "destroy" and inputs.get("remove") == "true":
        cli("stack", "rm", "--yes", stack)
    outputs = {}
    if command == "up":
        url = f"http://banknote-{stack}.westeurope.azurecontainer.io:8000/"
        outputs = {"url": url, "docs_url": url + "docs", "model_version": world.model_version}
    return True, outputs, "\n".join(log)


def _runner(world: World) -> tuple[Path, dict[str, str]]:
    """A fresh runner: a checkout of the committed files and the tools on PATH."""
    world.runners += 1
    home = world.root / f"runner-{world.runners}"
    checkout = home / "checkout"
    checkout.mkdir(parents=True)
    for name in COMMITTED:
        shutil.copy(ROOT / name, checkout / name)
    for name in (".venv", "scripts", ".github"):
        (checkout / name).symlink_to(ROOT / name)
    bin_dir = home / "bin"
    pulumi_cli.install(bin_dir)
    gh = bin_dir / "gh"
    (bin_dir / "fake_gh.py").write_text(FAKE_GH)
    gh.write_text(f'#!/usr/bin/env bash\nexec "{sys.executable}" "{bin_dir / "fake_gh.py"}" "$@"\n')
    gh.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "PULUMI_HOME": str(home / ".pulumi"),
        "RUNNER_TEMP": str(home / "temp"),
        "FAKE_PULUMI_BACKEND": str(world.backend),
        "FAKE_GH_STATE": str(world.gh_state),
    }
    (home / "temp").mkdir()
    return checkout, env


def run_job(
    workflow: Mapping[str, Any],
    job_name: str,
    event: Event,
    world: World,
    inputs: Mapping[str, Any] | None = None,
    trigger: str = "workflow_call",
) -> JobRun:
    """Run one job's steps for `event` on a fresh runner; the job's own `if:` is not checked.

    `inputs` are what the run was given through `trigger`: "workflow_call" (the pipeline's
    stages, the default) or "workflow_dispatch" (started by hand), with that trigger's
    declared defaults as GitHub fills them in (pipeline.declared_inputs).
    """
    job = workflow["jobs"][job_name]
    context = event.context(declared_inputs(workflow, trigger, inputs or {}))
    checkout, base_env = _runner(world)
    github = context["github"]
    base_env.update(
        GITHUB_REPOSITORY=github["repository"],
        GITHUB_SHA=github["sha"],
        GITHUB_REF=github["ref"],
        GITHUB_EVENT_NAME=github["event_name"],
        GITHUB_RUN_ID=str(github["run_id"]),
    )
    context["env"] = {}
    context["env"] = _evaluate_env(workflow.get("env"), context)
    context["env"].update(_evaluate_env(job.get("env"), context))
    context["steps"] = {}
    steps: list[StepRun] = []
    failed = False
    for index, step in enumerate(job.get("steps", [])):
        name = interpolate(str(step.get("name", step.get("uses", step.get("run", "")))), context)
        status = Status(all_succeeded=not failed, any_failed=failed)
        if not condition_holds(step.get("if"), context, status):
            run = StepRun(name, "skipped", executed=False)
        else:
            run = _run_step(step, name, context, base_env, checkout, world, index)
        steps.append(run)
        failed = failed or run.outcome == "failure"
        if "id" in step:
            context["steps"][step["id"]] = {
                "outputs": run.outputs,
                "outcome": run.outcome,
                "conclusion": run.outcome,
            }
    return JobRun(steps)


def _run_step(
    step: Mapping[str, Any],
    name: str,
    context: dict[str, Any],
    base_env: dict[str, str],
    checkout: Path,
    world: World,
    index: int,
) -> StepRun:
    env = {**base_env, **context["env"], **_evaluate_env(step.get("env"), context)}
    uses = str(step.get("uses", ""))
    if "run" in step:
        script = str(step["run"])
        if not any(marker in script for marker in EXECUTED_SCRIPTS):
            return StepRun(name, "success", executed=False)
        output = checkout.parent / f"output-{index}"
        summary = checkout.parent / "summary.md"
        result = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script],
            cwd=checkout,
            env={**env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        outcome = "success" if result.returncode == 0 else "failure"
        return StepRun(name, outcome, True, _read_outputs(output), result.stdout + result.stderr)
    if uses.startswith("pulumi/actions@"):
        inputs = _with_inputs(step, context)
        if "command" not in inputs:
            return StepRun(name, "success", executed=False)  # installs the CLI only
        ok, outputs, log = pulumi_action(inputs, env, checkout, world)
        return StepRun(name, "success" if ok else "failure", True, outputs, log)
    outputs = {}
    if uses == "./.github/actions/setup-python":
        outputs = {"pulumi-version": PULUMI_VERSION}
    elif uses == "./.github/actions/model-artifact":
        outputs = {"model-version": world.model_version}
    return StepRun(name, "success", executed=False, outputs=outputs)
