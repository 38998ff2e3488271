"""Every Pulumi job, run step by step (tests/workflows/jobrun.py) against the stand-in CLI
(tests/pulumi_cli.py), through the lives of `dev` and of `pr-<n>`: which stacks exist, which
commands run, and which secrets manager each engine operation uses.

The real behaviour these encode, with their sources:
- the secrets manager of an existing stack: pulumi/pulumi pkg/cmd/pulumi/stack/secrets.go
  `SecretsManagerLoader.GetSecretsManager` (config file, else with
  PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER the state's, else the DIY default: passphrase;
  pulumi/pulumi#17387), modelled in tests/pulumi_cli.py;
- pulumi/actions v7.0.0 passes `secrets-provider` only to `stack init` (src/main.ts with
  LocalWorkspace.createOrSelectStack / selectStack), modelled in jobrun.pulumi_action;
- a workflow run's event payload is as old as the run; only the REST API says whether a PR is
  still open and labelled now.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import pulumi_cli
from tests.workflows.expressions import interpolate
from tests.workflows.jobrun import World, pr_json, pulumi_action, run_job
from tests.workflows.pipeline import (
    HEAD_SHA,
    MERGE_SHA,
    PUSH_SHA,
    ROOT,
    VARS,
    load_workflows,
    pull_request,
    push,
    schedule,
)

KEY_VAULT = VARS["PULUMI_SECRETS_PROVIDER"]
MODEL = {"model-version": "20261126T041500Z-bbbbbbb"}


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return load_workflows()


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path / "world")


def used(world: World) -> list[tuple[str, str, str]]:
    return [(o["command"], o["stack"], o["secrets_manager"]) for o in world.operations()]


def admin_destroy(world: World, stack: str) -> subprocess.CompletedProcess[str]:
    """`scripts/pulumi_stack.py destroy`, as docs/deploy/first-deploy.md tells an admin to use."""
    bin_dir = world.root / "admin-bin"
    pulumi_cli.install(bin_dir)
    checkout = world.root / "admin"
    checkout.mkdir()
    (checkout / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    return subprocess.run(
        [str(ROOT / ".venv/bin/python"), str(ROOT / "scripts/pulumi_stack.py"), "destroy", stack],
        cwd=checkout,
        env={
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PULUMI_HOME": str(world.root / "admin-home"),
            "FAKE_PULUMI_BACKEND": str(world.backend),
            "PULUMI_BACKEND_URL": VARS["PULUMI_BACKEND_URL"],
            "PULUMI_SECRETS_PROVIDER": KEY_VAULT,
            "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER": "true",
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_dev_lives_on_key_vault_from_first_deploy_to_destroy(
    workflows: dict[str, dict[str, Any]], world: World
) -> None:
    deploy = workflows["deploy.yml"]
    world.set_pr(7, pr_json(7, labels=()))

    # A pull request before dev's first deploy: nothing to preview, and dev is not created
    # (with `upsert: true` the preview created dev, as the PR identity, which must not write
    # dev's state; and the deploy then met an existing stack it could not decrypt).
    early = run_job(deploy, "preview", pull_request(7), world, MODEL)
    assert early.ok, early.log()
    assert early.outcome("pulumi preview") == "skipped"
    assert early.outcome("Nothing to preview") == "success"
    assert world.stacks() == {}

    first = run_job(deploy, "deploy-dev", push(), world, MODEL)
    assert first.ok, first.log()
    # Every later job starts from a fresh checkout, without the Pulumi.dev.yaml keys that
    # `stack init` wrote: only the state can name the Key Vault key there.
    preview = run_job(deploy, "preview", pull_request(7), world, MODEL)
    assert preview.ok, preview.log()
    second = run_job(deploy, "deploy-dev", push(), world, MODEL)
    assert second.ok, second.log()
    removed = admin_destroy(world, "dev")
    assert removed.returncode == 0, removed.stderr

    assert used(world) == [
        ("up", "dev", KEY_VAULT),
        ("preview", "dev", KEY_VAULT),
        ("up", "dev", KEY_VAULT),
        ("destroy", "dev", KEY_VAULT),
    ]
    assert world.stacks() == {}


def test_pr_stacks_live_on_key_vault_through_every_job(
    workflows: dict[str, dict[str, Any]], world: World
) -> None:
    deploy = workflows["deploy.yml"]
    world.set_pr(7, pr_json(7))
    labelled = pull_request(7, labels=("preview-stack",))

    for _ in range(2):  # created, then updated by the next push's run
        job = run_job(deploy, "pr-stack", labelled, world, MODEL)
        assert job.ok, job.log()
        assert job.outcome("pulumi up") == "success"
    # The label workflow deploys through the same job, with the PR run's model.
    by_label = pull_request(7, action="labeled", labels=("preview-stack",), label="preview-stack")
    job = run_job(deploy, "pr-stack", by_label, world, {"run-id": "99", "pr-stack-only": True})
    assert job.ok, job.log()

    world.set_pr(7, pr_json(7, state="closed", merged=True))
    closed = pull_request(7, action="closed", labels=("preview-stack",))
    cleanup = run_job(workflows["pr-stack-cleanup.yml"], "destroy", closed, world)
    assert cleanup.ok, cleanup.log()
    assert "pr-7" not in world.stacks()

    # The sweep removes a stack whose cleanup never happened.
    world.set_pr(8, pr_json(8))
    assert run_job(deploy, "pr-stack", pull_request(8, labels=("preview-stack",)), world, MODEL).ok
    world.set_pr(8, pr_json(8, state="closed"))
    sweep = run_job(workflows["pr-stack-sweep.yml"], "sweep", schedule(), world)
    assert sweep.ok, sweep.log()

    assert used(world) == [
        ("up", "pr-7", KEY_VAULT),
        ("up", "pr-7", KEY_VAULT),
        ("up", "pr-7", KEY_VAULT),
        ("destroy", "pr-7", KEY_VAULT),
        ("up", "pr-8", KEY_VAULT),
        ("destroy", "pr-8", KEY_VAULT),
    ]
    assert world.stacks() == {}


def test_the_old_job_inputs_lose_the_key_vault_provider_on_the_second_run(world: World) -> None:
    # What the jobs did before: pulumi/actions with `upsert: true` and `secrets-provider`, and
    # no fallback. The second run, from a fresh checkout, ends in the passphrase manager.
    old = {
        "command": "up",
        "stack-name": "pr-7",
        "upsert": "true",
        "secrets-provider": KEY_VAULT,
        "cloud-url": VARS["PULUMI_BACKEND_URL"],
    }
    runs = []
    for n in range(2):
        checkout = world.root / f"old-{n}" / "checkout"
        checkout.mkdir(parents=True)
        (checkout / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
        bin_dir = world.root / f"old-{n}" / "bin"
        pulumi_cli.install(bin_dir)
        env = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PULUMI_HOME": str(world.root / f"old-{n}" / "home"),
            "FAKE_PULUMI_BACKEND": str(world.backend),
        }
        runs.append(pulumi_action(old, env, checkout, world))
    assert runs[0][0] is True
    assert runs[1][0] is False
    assert pulumi_cli.PROMPT_ERROR in runs[1][2]
    assert used(world) == [("up", "pr-7", KEY_VAULT), ("up", "pr-7", "passphrase")]


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        ([pr_json(7, state="closed")], "closed before the run reached stage 3"),
        ([pr_json(7, labels=())], "label removed after the run started"),
        ([pr_json(7, head_sha="d" * 40)], "a newer push: its own run deploys"),
        ([pr_json(7), pr_json(7, state="closed")], "closed while this job was setting up"),
        ([pr_json(7), pr_json(7, labels=("bug",))], "unlabelled while this job was setting up"),
    ],
)
def test_no_update_once_the_pr_no_longer_wants_its_stack(
    workflows: dict[str, dict[str, Any]],
    world: World,
    answers: list[dict[str, Any]],
    why: str,
) -> None:
    # The event payload still says open and labelled: it is as old as the run.
    world.set_pr(7, *answers)
    job = run_job(
        workflows["deploy.yml"],
        "pr-stack",
        pull_request(7, labels=("preview-stack",)),
        world,
        MODEL,
    )
    assert job.ok, why
    assert job.outcome("pulumi up") == "skipped", why
    assert world.stacks() == {}, why
    assert world.operations() == [], why


def test_an_unlabelled_pr_gets_no_stack_and_no_azure_login(
    workflows: dict[str, dict[str, Any]], world: World
) -> None:
    world.set_pr(7, pr_json(7, labels=()))
    job = run_job(workflows["deploy.yml"], "pr-stack", pull_request(7), world, MODEL)
    assert job.ok
    assert job.outcome("Log in to Azure") == "skipped"
    assert job.outcome("pulumi up") == "skipped"


def test_pr_stacks_deploy_into_the_pr_group_at_the_pr_head_commit(
    workflows: dict[str, dict[str, Any]], world: World
) -> None:
    world.set_pr(7, pr_json(7))
    job = run_job(
        workflows["deploy.yml"],
        "pr-stack",
        pull_request(7, labels=("preview-stack",)),
        world,
        MODEL,
    )
    assert job.ok, job.log()
    config = (world.root / "config-pr-7.json").read_text()
    assert '"resourceGroup": {"value": "rg-banknote_pr", "secret": false}' in config
    assert '"location": {"value": "westeurope", "secret": false}' in config
    # GITHUB_SHA on a PR is the test merge commit; the image and tags get the PR's head.
    up = next(line for line in pulumi_cli.calls(world.backend) if line.startswith("up "))
    assert up.endswith(f"GIT_COMMIT={HEAD_SHA}")
    assert MERGE_SHA not in up


@pytest.mark.parametrize(
    ("event", "commit"),
    [(pull_request(7), HEAD_SHA), (push(), PUSH_SHA)],
)
def test_the_commit_in_model_versions_images_and_tags_is_the_pushed_one(
    workflows: dict[str, dict[str, Any]], event: Any, commit: str
) -> None:
    # model/metadata.py and infra/config.py read GIT_COMMIT before GITHUB_SHA; on a pull
    # request GITHUB_SHA is the test merge commit (docs.github.com "Events that trigger
    # workflows", pull_request), so both stages set GIT_COMMIT to the PR's head.
    context = event.context({})
    train_env = workflows["train.yml"]["jobs"]["train"]["env"]
    assert interpolate(train_env["GIT_COMMIT"], context) == commit
    deploy_env = workflows["deploy.yml"]["env"]
    assert interpolate(deploy_env["GIT_COMMIT"], context) == commit
    assert context["github"]["sha"] != commit or event.name == "push"
