"""Run one workflow job's steps as a GitHub runner would, as far as they decide whether and how
Pulumi runs and which model is compared and deployed, against stand-ins for the GitHub API (`gh`,
tests/workflows/fake_github.py), the Pulumi CLI (tests/pulumi_cli.py), and `az` and `docker`
(tests/workflows/fake_azure.py).

What is executed for real: the job's and workflow's `env:` (expressions evaluated), every step's
`if:` (implicit success(), `steps.<id>.outputs`, `needs.<job>.outputs`), and the `run:` scripts
that ask the GitHub API, the registry, or run Pulumi (.github/scripts/pr_gate.py,
scripts/pulumi_stack.py, .github/scripts/pr_stack_sweep.py, .github/scripts/model_gate.py,
scripts/acr_image.py, `az acr`) in a fresh checkout with their step outputs written to
$GITHUB_OUTPUT and the job summary to $GITHUB_STEP_SUMMARY. `pulumi/actions` steps are modelled
on the pinned release's source (v7.0.0, src/main.ts `runAction`; see `pulumi_action`), and
`actions/upload-artifact` as GitHub keeps artifacts (listed by the stand-in gh for later jobs).
Every other step (checkout, setup, Azure login, training, model download, smoke test, the PR
stack's comment) is recorded as run and successful, not executed; a trained model a job would
have made or downloaded is `World.model_dir`, placed in each checkout's artifacts/model.

Each call of `run_job` is a fresh runner: a new checkout (only committed files, so no
Pulumi.<stack>.yaml a previous job wrote) and a new Pulumi workspace. The Pulumi backend and the
GitHub API's answers live in a `World` shared by the jobs of one test, as the blob container
and GitHub outlive a runner.
"""

from __future__ import annotations

import hashlib
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

# Steps whose scripts are executed: they decide whether and how Pulumi runs, and which model.
EXECUTED_SCRIPTS = (
    "pr_gate.py",
    "pulumi_stack.py",
    "pr_stack_sweep.py",
    "model_gate.py",
    "acr_image.py",
    "az acr",
)
PULUMI_VERSION = "3.272.0"
COMMITTED = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml")
# What a checkout holds beyond the committed Pulumi files: the scripts and the packages they run.
LINKED = (".venv", "scripts", ".github", "model", "contract", "data")
REPOSITORY_ID = 101  # this repository's id in the GitHub API


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
    """What outlives a runner: the Pulumi backend, GitHub (its answers about PRs, artifacts,
    comments) and the Azure container registries."""

    root: Path
    model_version: str = "20261126T041500Z-bbbbbbb"
    # The model a train job made, or a deploy job downloaded; without one, files that only
    # name the version (enough where no step reads the model itself).
    model_dir: Path | None = None
    runners: int = 0

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.model_dir is None:
            self.model_dir = self.root / "model"
            self.model_dir.mkdir()
            metadata = {"format_version": 2, "model_version": self.model_version}
            (self.model_dir / "metadata.json").write_text(json.dumps(metadata))
            (self.model_dir / "model.onnx").write_bytes(b"stand-in")
            (self.model_dir / "MODEL_CARD.md").write_text("stand-in\n")
        self.backend = self.root / "backend"
        self.gh_state = self.root / "github.json"
        self.gh_state.write_text(
            json.dumps(
                {
                    "prs": {},
                    "calls": [],
                    "artifacts": [],
                    "commit_pulls": {},
                    "comments": {},
                    "next_comment_id": 9000,
                }
            )
        )
        self.azure_state = self.root / "azure.json"
        self.azure_state.write_text(
            json.dumps({"registries": {}, "docker_logins": [], "containers": {}, "calls": []})
        )

    def github(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.gh_state.read_text())
        return state

    def _update_github(self, **changes: Any) -> None:
        state = self.github()
        state.update(changes)
        self.gh_state.write_text(json.dumps(state))

    def add_artifact(
        self,
        name: str,
        files: Path,
        run_id: int,
        *,
        branch: str = "main",
        fork: bool = False,
        expired: bool = False,
    ) -> dict[str, Any]:
        """An artifact as GitHub keeps it, uploaded by run `run_id` of `branch`."""
        state = self.github()
        stored = self.root / "artifacts" / str(len(state["artifacts"]))
        if files.is_file():  # an unzipped single-file artifact
            stored.mkdir(parents=True)
            shutil.copy(files, stored / files.name)
        else:
            shutil.copytree(files, stored)
        artifact = {
            "id": 5000 + len(state["artifacts"]),
            "name": name,
            "expired": expired,
            "created_at": f"2026-11-{1 + len(state['artifacts']):02d}T10:00:00Z",
            "workflow_run": {
                "id": run_id,
                "repository_id": REPOSITORY_ID,
                "head_repository_id": REPOSITORY_ID + 1 if fork else REPOSITORY_ID,
                "head_branch": branch,
                "head_sha": "a" * 40,
            },
            "path": str(stored),
        }
        self._update_github(artifacts=[*state["artifacts"], artifact])
        return artifact

    def artifacts(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.github()["artifacts"] if a["name"] == name]

    def set_commit_pulls(self, sha: str, *pulls: dict[str, Any]) -> None:
        """What "List pull requests associated with a commit" answers for `sha`."""
        self._update_github(commit_pulls={**self.github()["commit_pulls"], sha: list(pulls)})

    def comments(self, number: int) -> list[dict[str, Any]]:
        comments: list[dict[str, Any]] = self.github()["comments"].get(str(number), [])
        return comments

    def azure(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.azure_state.read_text())
        return state

    def push_image(self, login_server: str, version: str, model_dir: Path, day: int) -> str:
        """An image the pipeline pushed as banknote-api:<version>, holding `model_dir`'s files;
        its digest."""
        state = self.azure()
        name = login_server.split(".", 1)[0]
        registry = state["registries"].setdefault(
            name, {"login_server": login_server, "repositories": {}}
        )
        digest = "sha256:" + hashlib.sha256(f"{login_server}/{version}".encode()).hexdigest()
        registry["repositories"].setdefault("banknote-api", []).append(
            {
                "digest": digest,
                "tags": [version],
                "createdTime": f"2026-10-{day:02d}T08:00:00Z",
                "files": str(model_dir),
                "version": version,
            }
        )
        self.azure_state.write_text(json.dumps(state))
        return digest

    def image_version(self, reference: str) -> str | None:
        """The model version label of an image in a registry, by its reference."""
        for registry in self.azure()["registries"].values():
            for manifests in registry["repositories"].values():
                for manifest in manifests:
                    if reference == f"{registry['login_server']}/banknote-api@{manifest['digest']}":
                        return str(manifest["version"])
        return None

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
    env: dict[str, str] = field(default_factory=dict)  # the step's own env, evaluated


@dataclass
class JobRun:
    """The steps of one job run, in order, its outputs (`jobs.<id>.outputs`) and its summary."""

    steps: list[StepRun]
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    env: dict[str, str] = field(default_factory=dict)  # the workflow's and job's env, evaluated

    @property
    def ok(self) -> bool:
        return all(step.outcome not in ("failure", "cancelled") for step in self.steps)

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
    """$GITHUB_OUTPUT as the runner reads it: `name=value` lines, and multiline values as
    `name<<DELIMITER`, the lines, then the delimiter alone (docs.github.com "Workflow commands
    for GitHub Actions", multiline strings)."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text().splitlines() if path.exists() else [])
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            value: list[str] = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            else:
                raise AssertionError(f"{path}: no closing {delimiter!r} for output {key!r}")
            outputs[key] = "\n".join(value)
        elif "=" in line:
            key, value_text = line.split("=", 1)
            outputs[key] = value_text
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
        # Every stack output becomes a step output (src/main.ts: `const outputs = await
        # stack.outputs()`, then `core.setOutput` for each).
        listed = cli("stack", "output", "--json", "--stack", stack)
        outputs = {k: str(v) for k, v in json.loads(listed.stdout or "{}").items()}
        url = f"http://banknote-{stack}.westeurope.azurecontainer.io:8000/"
        # The program exports the artifact's version, or with config `image` that image's label.
        pinned = (config.get("image") or {}).get("value")
        version = world.image_version(pinned) if pinned else world.model_version
        outputs.update(url=url, docs_url=url + "docs", model_version=version or "unknown")
    return True, outputs, "\n".join(log)


def _runner(world: World) -> tuple[Path, dict[str, str]]:
    """A fresh runner: a checkout of the committed files and the tools on PATH."""
    world.runners += 1
    home = world.root / f"runner-{world.runners}"
    checkout = home / "checkout"
    checkout.mkdir(parents=True)
    for name in COMMITTED:
        shutil.copy(ROOT / name, checkout / name)
    for name in LINKED:
        (checkout / name).symlink_to(ROOT / name)
    if world.model_dir is not None:
        shutil.copytree(world.model_dir, checkout / "artifacts" / "model")
    bin_dir = home / "bin"
    pulumi_cli.install(bin_dir)
    here = Path(__file__).resolve().parent
    for tool, command in (
        ("gh", f'"{here / "fake_github.py"}"'),
        ("az", f'"{here / "fake_azure.py"}" az'),
        ("docker", f'"{here / "fake_azure.py"}" docker'),
    ):
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/usr/bin/env bash\nexec "{sys.executable}" {command} "$@"\n')
        wrapper.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "PULUMI_HOME": str(home / ".pulumi"),
        "RUNNER_TEMP": str(home / "temp"),
        "FAKE_PULUMI_BACKEND": str(world.backend),
        "FAKE_GH_STATE": str(world.gh_state),
        "FAKE_AZURE_STATE": str(world.azure_state),
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
    needs: Mapping[str, JobRun] | None = None,
    fail: tuple[str, ...] = (),
    cancel: tuple[str, ...] = (),
    fail_outputs: Mapping[str, Mapping[str, str]] | None = None,
) -> JobRun:
    """Run one job's steps for `event` on a fresh runner; the job's own `if:` is not checked.

    `inputs` are what the run was given through `trigger`: "workflow_call" (the pipeline's
    stages, the default) or "workflow_dispatch" (started by hand), with that trigger's
    declared defaults as GitHub fills them in (pipeline.declared_inputs). `needs` are the runs
    of the jobs it needs, by job id, for `needs.<job>.outputs`. A step whose name contains one
    of `fail` is not run and fails (a smoke test that finds a broken service, say), so that the
    steps after it meet a failed job as on GitHub, with the outputs `fail_outputs` gives for
    that name part (what the failing script wrote first). A step whose name contains one of
    `cancel` is where the run is cancelled (by a person, or by the job's timeout): that step
    ends `cancelled`, and every later step runs only if its `if` holds with cancelled() true
    and success() false (docs.github.com "Workflow cancellation reference": the server
    re-evaluates the `if` of the unfinished steps; `job.status` is then "cancelled").
    """
    job = workflow["jobs"][job_name]
    context = event.context(declared_inputs(workflow, trigger, inputs or {}))
    checkout, base_env = _runner(world)
    github = context["github"]
    github["run_id"] = str(1000 + world.runners)  # every job here is of a run of its own
    base_env.update(
        GITHUB_REPOSITORY=github["repository"],
        GITHUB_SHA=github["sha"],
        GITHUB_REF=github["ref"],
        GITHUB_EVENT_NAME=github["event_name"],
        GITHUB_RUN_ID=str(github["run_id"]),
        GITHUB_ACTOR="octocat",
    )
    context["needs"] = {
        name: {"result": "success", "outputs": run.outputs} for name, run in (needs or {}).items()
    }
    context["env"] = {}
    context["env"] = _evaluate_env(workflow.get("env"), context)
    context["env"].update(_evaluate_env(job.get("env"), context))
    context["steps"] = {}
    steps: list[StepRun] = []
    failed = cancelled = False
    for index, step in enumerate(job.get("steps", [])):
        name = interpolate(str(step.get("name", step.get("uses", step.get("run", "")))), context)
        status = Status(all_succeeded=not failed, any_failed=failed, cancelled=cancelled)
        context["job"] = {
            "status": "cancelled" if cancelled else "failure" if failed else "success"
        }
        if not condition_holds(step.get("if"), context, status):
            run = StepRun(name, "skipped", executed=False)
        elif any(part in name for part in cancel) and not cancelled:
            run = StepRun(name, "cancelled", executed=False)
            cancelled = True
        elif any(part in name for part in fail):
            written = next((dict(v) for k, v in (fail_outputs or {}).items() if k in name), {})
            run = StepRun(name, "failure", executed=False, outputs=written)
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
    # "Job outputs containing expressions are evaluated on the runner at the end of each job"
    # (docs.github.com "Defining outputs for jobs").
    outputs = {
        name: interpolate(str(value), context) for name, value in (job.get("outputs") or {}).items()
    }
    summary = checkout.parent / "summary.md"
    return JobRun(
        steps, outputs, summary.read_text() if summary.exists() else "", dict(context["env"])
    )


def _run_step(
    step: Mapping[str, Any],
    name: str,
    context: dict[str, Any],
    base_env: dict[str, str],
    checkout: Path,
    world: World,
    index: int,
) -> StepRun:
    own = _evaluate_env(step.get("env"), context)
    env = {**base_env, **context["env"], **own}
    uses = str(step.get("uses", ""))
    if "run" in step:
        script = str(step["run"])
        if not any(marker in script for marker in EXECUTED_SCRIPTS):
            return StepRun(name, "success", executed=False, env=own)
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
        log = result.stdout + result.stderr
        return StepRun(name, outcome, True, _read_outputs(output), log, env=own)
    if uses.startswith("actions/upload-artifact@"):
        inputs = _with_inputs(step, context)
        source = checkout / inputs["path"]
        if not source.exists():
            fail = inputs.get("if-no-files-found") == "error"
            return StepRun(name, "failure" if fail else "success", True, log="no files found")
        # v7.0.0 action.yml: with `archive: false` one file is uploaded as it is, "the name of
        # the file will be used as the artifact name (ignoring the `name` parameter)".
        unzipped = inputs.get("archive") == "false"
        if unzipped and not source.is_file():
            return StepRun(name, "failure", True, log="archive: false uploads a single file")
        artifact_name = source.name if unzipped else inputs.get("name", "artifact")
        run_id = int(context["github"]["run_id"])
        artifact = world.add_artifact(
            artifact_name, source, run_id,
            branch=context["github"]["ref"].removeprefix("refs/heads/"),
        )  # fmt: skip
        # The outputs v7.0.0 sets; the URL's form is its README's example (Outputs table).
        repository = context["github"]["repository"]
        outputs = {
            "artifact-id": str(artifact["id"]),
            "artifact-url": f"https://github.com/{repository}/actions/runs/{run_id}"
            f"/artifacts/{artifact['id']}",
        }
        return StepRun(name, "success", True, outputs, log=f"uploaded {artifact_name}")
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
