"""Security and deployment rules of the workflows, checked on the parsed YAML."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.pipeline import (
    ROOT,
    all_uses_lines,
    called_file,
    load_actions,
    load_workflows,
    load_yaml,
    steps_of,
    triggers,
    uses_action,
)

PINNED = re.compile(
    r"^(-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})\s+#\s+v\d+\.\d+\.\d+\s*$"
)
LOCAL = re.compile(r"^(-\s+)?uses:\s+\./\.github/(actions|workflows)/[\w./-]+$")
AZURE_VARIABLES = {
    "AZURE_CLIENT_ID",
    "AZURE_PR_CLIENT_ID",
    "AZURE_PROD_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_SUBSCRIPTION_ID",
    "PULUMI_BACKEND_URL",
    "PULUMI_SECRETS_PROVIDER",
    "AZURE_LOCATION",
}


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return load_workflows()


@pytest.fixture(scope="module")
def actions() -> dict[str, dict[str, Any]]:
    return load_actions()


def step_jobs(workflows: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(file, job name, job) for every job that runs steps (not a reusable-workflow call)."""
    for file, workflow in workflows.items():
        for name, job in workflow["jobs"].items():
            if called_file(job) is None:
                yield file, name, job


def reaches_azure(workflows: dict[str, dict[str, Any]], actions: dict[str, Any], file: str) -> bool:
    """Whether a workflow, or one it calls, logs in to Azure."""
    for job in workflows[file]["jobs"].values():
        callee = called_file(job)
        if callee is not None and reaches_azure(workflows, actions, callee):
            return True
        if callee is None and uses_action(job, actions, "azure/login"):
            return True
    return False


def pulumi_steps(job: dict[str, Any], actions: dict[str, Any]) -> list[dict[str, Any]]:
    """pulumi/actions steps that run a command (not the ones that only install the CLI)."""
    steps = uses_action(job, actions, "pulumi/actions")
    return [s for s in steps if s.get("with", {}).get("command")]


def stack_script_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps that run Pulumi through scripts/pulumi_stack.py or the PR-stack sweep."""
    return [
        s
        for s in job.get("steps", [])
        if any(
            script in s.get("run", "")
            for script in ("scripts/pulumi_stack.py", "pr_stack_sweep.py", "scripts/rollout.py")
        )
    ]


def runs_pulumi(job: dict[str, Any], actions: dict[str, Any]) -> bool:
    return bool(pulumi_steps(job, actions) or stack_script_steps(job))


def stack_name(job: dict[str, Any], step: dict[str, Any]) -> str:
    """The step's stack-name with `${{ env.X }}` replaced by the job's env value."""
    env = job.get("env", {})
    return re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", lambda m: env[m[1]], step["with"]["stack-name"])


def effective_env(workflow: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """The workflow's env overlaid by the job's."""
    return {**workflow.get("env", {}), **job.get("env", {})}


def test_workflows_grant_nothing_by_default(workflows: dict[str, dict[str, Any]]) -> None:
    for file, workflow in workflows.items():
        assert workflow.get("permissions") == {}, file


def test_every_job_states_its_permissions(workflows: dict[str, dict[str, Any]]) -> None:
    for file, workflow in workflows.items():
        for name, job in workflow["jobs"].items():
            permissions = job.get("permissions")
            assert isinstance(permissions, dict), f"{file}:{name}"
            assert "write-all" not in str(permissions), f"{file}:{name}"
            if f"{file}:{name}" == "lock-update.yml:lock":
                # It pushes the branch of its pull request; it runs on a schedule from the
                # default branch, never on a PR, and holds no cloud credentials.
                assert permissions == {
                    "contents": "write",
                    "pull-requests": "write",
                    "actions": "write",
                }
                assert set(triggers(workflow)) == {"schedule", "workflow_dispatch"}
                continue
            assert permissions.get("contents") in (None, "read"), f"{file}:{name}"


def test_only_azure_jobs_get_an_id_token(
    workflows: dict[str, dict[str, Any]], actions: dict[str, Any]
) -> None:
    azure_jobs = set()
    for file, name, job in step_jobs(workflows):
        logs_in = bool(uses_action(job, actions, "azure/login"))
        has_token = job["permissions"].get("id-token") == "write"
        # The one other use: actions/deploy-pages proves with the token that the run made the
        # artifact it publishes (its README: `id-token: write` "to verify the deployment
        # originates from an appropriate source").
        if uses_action(job, actions, "actions/deploy-pages"):
            assert f"{file}:{name}" == "docs.yml:deploy"
            assert job["permissions"] == {"pages": "write", "id-token": "write"}
            assert job["environment"]["name"] == "github-pages"
            continue
        assert logs_in == has_token, f"{file}:{name}: id-token {has_token}, azure/login {logs_in}"
        if logs_in:
            azure_jobs.add(f"{file}:{name}")
    assert azure_jobs == {
        "deploy.yml:preview",
        "deploy.yml:pr-stack",
        "deploy.yml:deploy-dev",
        "deploy.yml:deploy-prod",
        "pr-stack-cleanup.yml:destroy",
        "pr-stack-sweep.yml:sweep",
    }
    # A calling job passes id-token on only if the workflow it calls logs in to Azure.
    for file, workflow in workflows.items():
        for name, job in workflow["jobs"].items():
            callee = called_file(job)
            if callee is not None and job["permissions"].get("id-token") == "write":
                assert reaches_azure(workflows, actions, callee), f"{file}:{name}"


# Which identity each Azure job logs in as. Only the job in the `dev` environment presents the
# subject the deploy identity trusts (environment:dev); everything a pull request starts, and
# the scheduled sweep, uses the pull-request identity, whose roles end at rg-banknote_pr and the
# pr-* state (tests/infra/test_infra_bootstrap.py asserts those, identity by identity).
IDENTITY_OF_JOB = {
    "deploy.yml:deploy-dev": "AZURE_CLIENT_ID",
    "deploy.yml:deploy-prod": "AZURE_PROD_CLIENT_ID",
    "deploy.yml:preview": "AZURE_PR_CLIENT_ID",
    "deploy.yml:pr-stack": "AZURE_PR_CLIENT_ID",
    "pr-stack-cleanup.yml:destroy": "AZURE_PR_CLIENT_ID",
    "pr-stack-sweep.yml:sweep": "AZURE_PR_CLIENT_ID",
}


def test_azure_login_is_oidc_with_the_right_identity(
    workflows: dict[str, dict[str, Any]], actions: dict[str, Any]
) -> None:
    # The composite checks the variables, then passes the three ids to azure/login: no secret.
    (login,) = uses_action(actions["azure-login"]["runs"], actions, "azure/login")
    assert login["with"] == {
        "client-id": "${{ inputs.client-id }}",
        "tenant-id": "${{ inputs.tenant-id }}",
        "subscription-id": "${{ inputs.subscription-id }}",
    }
    seen = {}
    for file, name, job in step_jobs(workflows):
        for step in job["steps"]:
            if step.get("uses") != "./.github/actions/azure-login":
                continue
            variable = IDENTITY_OF_JOB[f"{file}:{name}"]
            given = dict(step["with"])
            # Only the prod rollout's gate queries Azure Monitor (its second login).
            if given.pop("token-resources", None) is not None:
                assert variable == "AZURE_PROD_CLIENT_ID", f"{file}:{name}"
            assert given == {
                "client-id": f"${{{{ vars.{variable} }}}}",
                "client-id-variable": variable,
                "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
                "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
                "backend-url": "${{ vars.PULUMI_BACKEND_URL }}",
                "secrets-provider": "${{ vars.PULUMI_SECRETS_PROVIDER }}",
            }, f"{file}:{name}"
            # The azure-native provider logs in as the same identity.
            env = effective_env(workflows[file], job)
            assert env["ARM_CLIENT_ID"] == f"${{{{ vars.{variable} }}}}", f"{file}:{name}"
            seen[f"{file}:{name}"] = variable
            if variable == "AZURE_CLIENT_ID":
                assert job["environment"]["name"] == "dev"
                assert "github.event_name != 'pull_request'" in job["if"]
            elif variable == "AZURE_PROD_CLIENT_ID":
                # The prod identity trusts environment:prod only (infra/bootstrap/targets.py).
                assert job["environment"]["name"] == "prod"
                assert "github.event_name != 'pull_request'" in job["if"]
                assert "github.ref == 'refs/heads/main'" in job["if"]
            else:
                assert "environment" not in job, "an environment would change the subject"
    assert seen == IDENTITY_OF_JOB


def test_the_login_fetches_the_tokens_pulumi_needs_while_the_oidc_assertion_is_fresh(
    actions: dict[str, Any], tmp_path: Path
) -> None:
    # A GitHub OIDC login gets Resource Manager's token only, and the ID token it hands the CLI
    # expires after about 5 minutes; a token for another resource asked after that fails with
    # AADSTS700024 (Azure/azure-cli#28708; Azure/login#441 and #372). Pulumi's azblob:// state
    # and azurekeyvault:// secrets ask the CLI for Storage and Key Vault tokens (gocloud's
    # azidentity credentials), so the composite fetches them right after azure/login.
    steps = actions["azure-login"]["runs"]["steps"]
    index = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("azure/login@"))
    fetch = steps[index + 1]
    assert "get-access-token" in fetch["run"]
    # Run the step's script for real, with an `az` that records what it is asked.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    (bin_dir / "az").write_text(f'#!/usr/bin/env bash\necho "$*" >> "{calls}"\n')
    (bin_dir / "az").chmod(0o755)
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", fetch["run"]],
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "TOKEN_RESOURCES": "https://prometheus.monitor.azure.com",
        },
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == [
        "account get-access-token --resource https://storage.azure.com/ --output none",
        "account get-access-token --resource https://vault.azure.net --output none",
        "account get-access-token --resource https://prometheus.monitor.azure.com --output none",
    ]
    assert fetch["env"] == {"TOKEN_RESOURCES": "${{ inputs.token-resources }}"}


def test_no_secrets_and_only_the_bootstrap_variables() -> None:
    for path in [*(ROOT / ".github").rglob("*.yml")]:
        text = path.read_text(encoding="utf-8")
        assert "secrets." not in text, f"{path}: the pipeline needs no secrets"
        assert "secrets: inherit" not in text, path
        used = set(re.findall(r"\bvars\.([A-Z_]+)", text))
        assert used <= AZURE_VARIABLES, f"{path}: {used - AZURE_VARIABLES}"


def test_every_job_has_a_timeout(workflows: dict[str, dict[str, Any]]) -> None:
    for file, name, job in step_jobs(workflows):
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int), f"{file}:{name}"
        # Bounded, and far below GitHub's 360-minute default; the Pulumi jobs' lower bounds are
        # in test_workflows_pr_stack_lifecycle.py.
        assert 0 < timeout <= 120, f"{file}:{name}"


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    lines = all_uses_lines()
    assert lines
    shas: dict[str, set[str]] = {}
    for path, number, line in lines:
        if LOCAL.match(line):
            continue
        match = PINNED.match(line)
        assert match, f"{path}:{number}: {line!r} is not pinned to a 40-hex SHA with # vX.Y.Z"
        shas.setdefault(match["action"], set()).add(match["sha"])
    for action, found in shas.items():
        assert len(found) == 1, f"{action} is pinned to different commits: {found}"


def test_checkout_never_keeps_the_token(
    workflows: dict[str, dict[str, Any]], actions: dict[str, Any]
) -> None:
    checkouts = 0
    for file, name, job in step_jobs(workflows):
        for step in uses_action(job, actions, "actions/checkout"):
            checkouts += 1
            assert step["with"]["persist-credentials"] is False, f"{file}:{name}"
            # Only the trusted base branch is checked out explicitly; never the PR head.
            ref = str(step["with"].get("ref", ""))
            assert "head" not in ref, f"{file}:{name} checks out {ref}"
    assert checkouts >= 8


def test_run_scripts_take_values_from_env_not_expressions(
    workflows: dict[str, dict[str, Any]], actions: dict[str, Any]
) -> None:
    # ${{ }} inside a script is pasted in before the shell parses it (template injection).
    for file, name, job in step_jobs(workflows):
        for step in steps_of(job, actions):
            assert "${{" not in step.get("run", ""), f"{file}:{name}: {step.get('name')}"


def test_pulumi_previews_on_prs_and_updates_dev_only_from_main(
    workflows: dict[str, dict[str, Any]], actions: dict[str, Any]
) -> None:
    commands: dict[str, list[str]] = {}
    for file, name, job in step_jobs(workflows):
        for step in pulumi_steps(job, actions):
            stack, command = stack_name(job, step), step["with"]["command"]
            commands.setdefault(f"{file}:{name}", []).append(f"{command} {stack}")
            # Only scripts/pulumi_stack.py creates stacks (with the Key Vault provider), and
            # only where a job may: `upsert` made the preview of dev create dev.
            assert "upsert" not in step["with"], f"{file}:{name}"
            condition = job.get("if", "")
            if stack == "dev":
                if command == "up":
                    assert "github.ref == 'refs/heads/main'" in condition
                    assert "github.event_name != 'pull_request'" in condition
                    assert job["environment"]["name"] == "dev"
                else:
                    assert command == "preview"
                    assert step["with"]["comment-on-pr"] is True
                    assert "github.event_name == 'pull_request'" in condition
            else:
                assert stack == "pr-${{ github.event.pull_request.number }}", stack
                assert "github.event.pull_request.head.repo.full_name == github.repository" in (
                    condition
                )
        for step in stack_script_steps(job):
            commands.setdefault(f"{file}:{name}", []).append(step["run"].split("/")[-1])
    assert commands == {
        "deploy.yml:preview": ["preview dev", 'pulumi_stack.py prepare "$STACK"'],
        "deploy.yml:pr-stack": [
            "up pr-${{ github.event.pull_request.number }}",
            'pulumi_stack.py prepare "$STACK" --create',
        ],
        # Never created to deploy a version from its registry: that needs dev's registry.
        "deploy.yml:deploy-dev": [
            "up dev",
            'pulumi_stack.py prepare "$STACK" --create',
            'pulumi_stack.py prepare "$STACK"',
        ],
        "deploy.yml:deploy-prod": [
            'pulumi_stack.py prepare "$STACK" --create',
            'rollout.py import-image "$STACK" --source "$DEV_IMAGE" '
            '--model-version "$MODEL_VERSION"',
            'rollout.py canary "$STACK" --image "$IMAGE" --rollout-id "$ROLLOUT_ID"',
            'rollout.py promote "$STACK"',
            'rollout.py rollback "$STACK" --reason "$REASON"',
        ],
        "pr-stack-cleanup.yml:destroy": ['pulumi_stack.py destroy "$STACK"'],
        "pr-stack-sweep.yml:sweep": [
            'pr_stack_sweep.py --repository "$GITHUB_REPOSITORY" --max-minutes 60'
        ],
    }
    assert workflows["deploy.yml"]["jobs"]["preview"]["env"]["STACK"] == "dev"
    assert workflows["deploy.yml"]["jobs"]["deploy-dev"]["env"]["STACK"] == "dev"
    assert workflows["deploy.yml"]["jobs"]["deploy-prod"]["env"]["STACK"] == "prod"


def test_every_pulumi_job_has_the_backend_secrets_provider_and_fallback(
    workflows: dict[str, dict[str, Any]], actions: dict[str, Any]
) -> None:
    jobs = 0
    for file, name, job in step_jobs(workflows):
        if not runs_pulumi(job, actions):
            continue
        jobs += 1
        env = effective_env(workflows[file], job)
        assert env["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}", f"{file}:{name}"
        assert env["PULUMI_SECRETS_PROVIDER"] == "${{ vars.PULUMI_SECRETS_PROVIDER }}"
        # pulumi/pulumi#17387: an existing stack's secrets manager from its state.
        assert env["PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"] == "true", f"{file}:{name}"
        assert env["ARM_USE_OIDC"] == "true"
        for step in pulumi_steps(job, actions):
            assert step["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}", f"{file}:{name}"
    assert jobs == 6


def test_concurrency_never_cancels_a_pulumi_run(
    workflows: dict[str, dict[str, Any]], actions: dict[str, Any]
) -> None:
    groups = {}
    for file, name, job in step_jobs(workflows):
        if not runs_pulumi(job, actions):
            continue
        concurrency = job["concurrency"]
        assert concurrency["cancel-in-progress"] is False, f"{file}:{name}"
        groups[f"{file}:{name}"] = concurrency["group"]
    assert groups == {
        "deploy.yml:preview": "pulumi-preview-dev-pr-${{ github.event.pull_request.number }}",
        "deploy.yml:pr-stack": "pulumi-pr-${{ github.event.pull_request.number }}",
        "deploy.yml:deploy-dev": "pulumi-dev",
        "deploy.yml:deploy-prod": "pulumi-prod",
        "pr-stack-cleanup.yml:destroy": "pulumi-pr-${{ github.event.pull_request.number }}-destroy",
        "pr-stack-sweep.yml:sweep": "pulumi-pr-sweep",
    }
    # A run-wide cancel would cancel the deploy jobs it contains or calls.
    for file, workflow in workflows.items():
        concurrency = workflow.get("concurrency")
        if isinstance(concurrency, dict):
            assert concurrency.get("cancel-in-progress") is not True, file


def test_jobs_that_cancel_superseded_runs_touch_no_cloud(
    workflows: dict[str, dict[str, Any]], actions: dict[str, Any]
) -> None:
    for file, name, job in step_jobs(workflows):
        cancel = job.get("concurrency", {}).get("cancel-in-progress", False)
        if cancel is not False:
            assert job["permissions"] == {"contents": "read"}, f"{file}:{name}"
            assert not pulumi_steps(job, actions)


def test_pr_stacks_are_destroyed_and_removed_on_close(
    workflows: dict[str, dict[str, Any]], actions: dict[str, Any]
) -> None:
    cleanup = workflows["pr-stack-cleanup.yml"]
    assert set(triggers(cleanup)) == {"pull_request"}
    assert "closed" in triggers(cleanup)["pull_request"]["types"]
    assert "paths" not in triggers(cleanup)["pull_request"], "must run for every closed PR"
    job = cleanup["jobs"]["destroy"]
    assert not pulumi_steps(job, actions)
    (destroy,) = stack_script_steps(job)
    assert destroy["run"] == '.venv/bin/python scripts/pulumi_stack.py destroy "$STACK"'
    assert job["env"]["STACK"] == "pr-${{ github.event.pull_request.number }}"
    # The sweep is its backstop, daily and by hand.
    sweep = workflows["pr-stack-sweep.yml"]
    assert set(triggers(sweep)) == {"schedule", "workflow_dispatch"}


def test_the_deploy_uses_the_artifact_the_train_stage_uploaded(
    workflows: dict[str, dict[str, Any]], actions: dict[str, Any]
) -> None:
    train = workflows["train.yml"]
    uploads = uses_action(train["jobs"]["train"], actions, "actions/upload-artifact")
    # The other upload is the comparison figure (tests/workflows/test_workflows_model_gate.py).
    (upload,) = [u for u in uploads if u["with"].get("name") == "model"]
    assert upload["with"]["name"] == "model"
    assert upload["with"]["path"].rstrip("/") == "artifacts/model"
    assert upload["with"]["if-no-files-found"] == "error"
    # The version the train job read from the artifact is handed to the deploy stage...
    assert train["on"]["workflow_call"]["outputs"]["model-version"]["value"] == (
        "${{ jobs.train.outputs.model-version }}"
    )
    assert train["jobs"]["deploy"]["with"]["model-version"] == (
        "${{ needs.train.outputs.model-version }}"
    )
    # ...and every job that builds downloads that artifact and checks it against that version.
    fetch = actions["model-artifact"]
    (download,) = uses_action(fetch["runs"], actions, "actions/download-artifact")
    assert download["with"]["name"] == "model"
    assert download["with"]["path"] == "artifacts/model"
    assert download["with"]["run-id"] == "${{ inputs.run-id }}"
    jobs = workflows["deploy.yml"]["jobs"]
    for name, job in jobs.items():
        if name in ("prod-not-set-up", "deploy-prod"):  # a notice; prod builds nothing
            continue
        (step,) = [s for s in job["steps"] if s.get("uses") == "./.github/actions/model-artifact"]
        assert step["with"]["expected-version"] == "${{ inputs.model-version }}", name
        assert step["with"]["run-id"] == "${{ env.SOURCE_RUN_ID }}", name
        if name != "deploy-dev":  # another run's model for a PR: that PR's head commit only
            assert step["with"]["pr-head-sha"] == "${{ github.event.pull_request.head.sha }}"
    # prod deploys dev's image and expects the version dev's update exported and checked.
    prod = jobs["deploy-prod"]
    assert not [s for s in prod["steps"] if s.get("uses") == "./.github/actions/model-artifact"]
    assert prod["env"]["MODEL_VERSION"] == "${{ needs.deploy-dev.outputs.model-version }}"
    assert jobs["deploy-dev"]["outputs"]["model-version"] == (
        "${{ steps.pulumi.outputs.model_version }}"
    )
    assert (
        workflows["deploy.yml"]["env"]["SOURCE_RUN_ID"] == "${{ inputs.run-id || github.run_id }}"
    )


def test_the_workflows_run_the_developer_make_targets(
    workflows: dict[str, dict[str, Any]], actions: dict[str, Any]
) -> None:
    def runs(file: str, job: str) -> list[str]:
        steps = steps_of(workflows[file]["jobs"][job], actions)
        return [s["run"].strip() for s in steps if "run" in s]

    assert "make venv" in runs("analyze.yml", "lint")
    assert "make lint" in runs("analyze.yml", "lint")
    assert "make test" in runs("analyze.yml", "test")
    assert workflows["analyze.yml"]["jobs"]["test"]["env"]["REQUIRE_CONTAINER_TESTS"] == "1"
    assert {"make train", "make container-test"} <= set(runs("train.yml", "train"))
    # The targets exist in the Makefile under these names.
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("venv", "lint", "test", "train", "container-test"):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), target


def test_dependabot_updates_actions_and_a_workflow_updates_the_lock(
    workflows: dict[str, dict[str, Any]],
) -> None:
    config = load_yaml(ROOT / ".github" / "dependabot.yml")
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    # Dependabot cannot regenerate the locks in requirements/ together with hashes.
    assert set(updates) == {"github-actions"}
    assert {"/", "/.github/actions/*"} <= set(updates["github-actions"]["directories"])
    lock = workflows["lock-update.yml"]
    assert set(triggers(lock)) == {"schedule", "workflow_dispatch"}
    runs = [s.get("run", "") for s in lock["jobs"]["lock"]["steps"]]
    upgrade = next(r for r in runs if "make lock" in r)
    assert 'UV_CONFIG_FILE="$RUNNER_TEMP/uv-upgrade.toml" make lock' in upgrade
    opened = next(r for r in runs if "gh pr create" in r)
    assert "git add requirements/" in opened
    # A PR made with GITHUB_TOKEN starts no pull_request workflows: start the checks by hand.
    assert 'gh workflow run analyze.yml --ref "$BRANCH"' in opened
    assert "workflow_dispatch" in triggers(workflows["analyze.yml"])


def test_every_update_is_smoke_tested_against_the_trained_version(
    workflows: dict[str, dict[str, Any]], actions: dict[str, Any]
) -> None:
    for file, name, job in step_jobs(workflows):
        ups = [s for s in pulumi_steps(job, actions) if s["with"]["command"] == "up"]
        if not ups:
            continue
        steps = job["steps"]
        after = steps[steps.index(ups[0]) + 1 :]
        smoke = [s for s in after if "scripts/smoke.py" in s.get("run", "")]
        assert len(smoke) == 1, f"{file}:{name}"
        assert '--model-version "$MODEL_VERSION"' in smoke[0]["run"]
        assert smoke[0]["env"]["STACK_URL"] == "${{ steps.pulumi.outputs.url }}"
        # The version the job deploys: the model artifact's, or for dev the version started by
        # hand, whose image comes from the registry.
        expected = "${{ steps.model.outputs.model-version }}"
        if f"{file}:{name}" == "deploy.yml:deploy-dev":
            expected = "${{ steps.model.outputs.model-version || env.REGISTRY_VERSION }}"
        assert smoke[0]["env"]["MODEL_VERSION"] == expected, f"{file}:{name}"
        (check,) = [s for s in after if "STACK_MODEL_VERSION" in s.get("env", {})]
        assert check["env"]["MODEL_VERSION"] == expected, f"{file}:{name}"
        assert check["env"]["STACK_MODEL_VERSION"] == "${{ steps.pulumi.outputs.model_version }}"
        # The smoke test runs, and fails the job, after every update that runs.
        assert smoke[0].get("if") == ups[0].get("if"), f"{file}:{name}"
