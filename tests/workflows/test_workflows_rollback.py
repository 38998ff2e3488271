"""Deploy a known model version without rebuilding: "MLOps workflow - Build Image and Deploy"
started by hand with `model-version`, run step by step (tests/workflows/jobrun.py) against the
stand-in Pulumi CLI, `az` and `docker`, through dev's life: deploys from the pipeline, a rollback,
and the next comparison, whose champion is the model the rollback put back.

GitHub behaviour relied on: a run started by hand gets the workflow_dispatch inputs in the
`inputs` context and nothing else, so the workflow_call-only input `from-artifact` is null there,
while every call gets its declared default, true (docs.github.com "Contexts", inputs context;
"Workflow syntax", on.workflow_call.inputs.<input_id>.default). Azure CLI behaviour: `az acr
manifest list-metadata` lists a repository's manifests with their tags (Azure/azure-cli
acr/manifest.py `acr_manifest_metadata_list`), the tag being the model version the image was
pushed with (infra/image.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contract import METADATA_FILE
from tests.workflows.expressions import interpolate
from tests.workflows.jobrun import World, pr_json, run_job
from tests.workflows.pipeline import (
    ROOT,
    VARS,
    declared_inputs,
    dispatch,
    load_workflows,
    pull_request,
    push,
    ran,
    simulate,
    with_event_copy,
)

# The dev registry's login server in the stand-in CLI's stack outputs (tests/pulumi_cli.py).
DEV_REGISTRY = "banknotedev0a1b2c3d.azurecr.io"


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return load_workflows()


def version_of(model_dir: Path) -> str:
    return str(json.loads((model_dir / METADATA_FILE).read_text())["model_version"])


def test_a_model_version_by_hand_deploys_dev_then_prod(
    workflows: dict[str, dict[str, Any]],
) -> None:
    deploy = workflows["deploy.yml"]
    dispatch_inputs = deploy["on"]["workflow_dispatch"]["inputs"]
    assert set(dispatch_inputs) == {"model-version"}  # the run-id path is gone from dispatch
    assert dispatch_inputs["model-version"]["required"] is True
    # dev first; prod after dev's smoke test, through its canary (test_workflows_prod.py).
    assert ran(simulate(workflows, "deploy.yml", dispatch(**{"model-version": "v1"}))) == {
        "deploy.yml:deploy-dev",
        "deploy.yml:deploy-prod",
    }
    # A repository without prod rolls back dev alone, and says why prod is skipped.
    no_prod = with_event_copy(
        dispatch(**{"model-version": "v1"}),
        vars={k: v for k, v in VARS.items() if k != "AZURE_PROD_CLIENT_ID"},
    )
    assert ran(simulate(workflows, "deploy.yml", no_prod)) == {
        "deploy.yml:deploy-dev",
        "deploy.yml:prod-not-set-up",
    }
    # From another branch it deploys nothing (dev follows main only).
    off_main = dispatch("refs/heads/feature", **{"model-version": "v1"})
    assert ran(simulate(workflows, "deploy.yml", off_main)) == set()


@pytest.mark.parametrize(
    ("trigger", "given", "expected"),
    [
        (
            "workflow_dispatch",
            {"model-version": "20261101T120000Z-1234567-abcdef"},
            "20261101T120000Z-1234567-abcdef",
        ),
        # train.yml's call: the version it trained, to build and check, never from the registry.
        ("workflow_call", {"model-version": "20261126T041500Z-bbbbbbb"}, ""),
        # pr-stack-label.yml's call: another run's model.
        ("workflow_call", {"run-id": "99", "pr-stack-only": True}, ""),
    ],
)
def test_only_a_run_started_by_hand_deploys_from_the_registry(
    workflows: dict[str, dict[str, Any]], trigger: str, given: dict[str, Any], expected: str
) -> None:
    deploy = workflows["deploy.yml"]
    event = dispatch() if trigger == "workflow_dispatch" else push()
    context = event.context(declared_inputs(deploy, trigger, given))
    assert interpolate(deploy["env"]["REGISTRY_VERSION"], context) == expected


@pytest.fixture
def dev(tmp_path: Path, artifact_dir: Path, weak_artifact_dir: Path) -> World:
    """dev deployed by the pipeline with the default model, after an older (weak) one: both
    images are in dev's registry, tagged with their versions, as the builds pushed them."""
    world = World(
        tmp_path / "world", model_version=version_of(artifact_dir), model_dir=artifact_dir
    )
    world.push_image(DEV_REGISTRY, version_of(weak_artifact_dir), weak_artifact_dir, day=1)
    world.push_image(DEV_REGISTRY, version_of(artifact_dir), artifact_dir, day=2)
    return world


def deploy_by_hand(workflows: dict[str, dict[str, Any]], world: World, version: str) -> Any:
    inputs = {"model-version": version}
    return run_job(
        workflows["deploy.yml"], "deploy-dev", dispatch(**inputs), world, inputs,
        trigger="workflow_dispatch",
    )  # fmt: skip


def test_a_rollback_deploys_the_versions_image_by_digest_and_records_it_as_champion(
    workflows: dict[str, dict[str, Any]], dev: World, artifact_dir: Path, weak_artifact_dir: Path
) -> None:
    chain = run_job(
        workflows["deploy.yml"], "deploy-dev", push(), dev, {"model-version": dev.model_version}
    )
    assert chain.ok, chain.log()
    (first,) = dev.artifacts("champion")  # the pipeline's deploy records what dev serves
    assert version_of(Path(first["path"])) == version_of(artifact_dir)

    old = version_of(weak_artifact_dir)
    job = deploy_by_hand(workflows, dev, old)
    assert job.ok, job.log()
    assert job.outcome("Fetch the trained model") == "skipped"  # no artifact, no build
    assert job.outcome("created with the Key Vault provider") == "skipped"  # never creates dev
    digest = next(
        m["digest"]
        for m in dev.azure()["registries"]["banknotedev0a1b2c3d"]["repositories"]["banknote-api"]
        if m["version"] == old
    )
    reference = f"{DEV_REGISTRY}/banknote-api@{digest}"
    find = next(s for s in job.steps if s.name.startswith("Find model version"))
    assert find.outputs["image"] == reference
    # The update got exactly that digest as config `image` (infra: no docker.Image then) ...
    config = json.loads((dev.root / "config-dev.json").read_text())
    assert config == {"image": {"value": reference, "secret": False}}
    up = next(s for s in job.steps if s.name == "pulumi up (dev)")
    assert up.outputs["model_version"] == old  # ... and exported the image's label
    # The registry was asked by name and repository, with this job's login.
    calls = dev.azure()["calls"]
    assert [
        "az", "acr", "manifest", "list-metadata", "--registry", "banknotedev0a1b2c3d",
        "--name", "banknote-api", "--orderby", "time_desc", "--output", "json",
    ] in calls  # fmt: skip
    assert ["az", "acr", "login", "--name", "banknotedev0a1b2c3d"] in calls
    assert next(c for c in calls if c[1] == "create")[:3] == ["docker", "create", "--name"]
    # dev now serves the old model, copied out of its image as the next champion.
    newest = dev.artifacts("champion")[-1]
    recorded = Path(newest["path"])
    assert version_of(recorded) == old
    assert (recorded / "model.onnx").read_bytes() == (weak_artifact_dir / "model.onnx").read_bytes()
    assert newest["workflow_run"]["head_branch"] == "main"
    # Nothing committed changes: the next pipeline run builds from its artifact again.
    assert "banknote:image" not in (ROOT / "Pulumi.dev.yaml").read_text()


def test_a_rollback_hands_prod_the_versions_image_and_version(
    workflows: dict[str, dict[str, Any]], dev: World, weak_artifact_dir: Path
) -> None:
    # What deploy-prod receives from a rollback of dev: the image dev just deployed and
    # smoke-tested, from dev's registry by digest, and its version, for prod's canary to
    # import, serve and check (scripts/rollout.py; tests/infra/test_infra_rollout_script.py).
    assert run_job(
        workflows["deploy.yml"], "deploy-dev", push(), dev, {"model-version": dev.model_version}
    ).ok
    old = version_of(weak_artifact_dir)
    rolled_back = deploy_by_hand(workflows, dev, old)
    assert rolled_back.ok, rolled_back.log()
    find = next(s for s in rolled_back.steps if s.name.startswith("Find model version"))
    assert rolled_back.outputs == {"image": find.outputs["image"], "model-version": old}
    prod = run_job(
        workflows["deploy.yml"], "deploy-prod", dispatch(**{"model-version": old}), dev,
        {"model-version": old}, trigger="workflow_dispatch", needs={"deploy-dev": rolled_back},
    )  # fmt: skip
    assert prod.ok, prod.log()
    imported = next(s for s in prod.steps if s.name.startswith("Import dev's image"))
    assert imported.env["DEV_IMAGE"] == find.outputs["image"]
    assert prod.env["MODEL_VERSION"] == old  # what the canary must serve and be smoke-tested on
    assert prod.outcome("Step 0") == "success"


def test_after_a_rollback_the_next_comparison_is_with_the_rolled_back_model(
    workflows: dict[str, dict[str, Any]], dev: World, artifact_dir: Path, weak_artifact_dir: Path
) -> None:
    assert run_job(
        workflows["deploy.yml"], "deploy-dev", push(), dev, {"model-version": dev.model_version}
    ).ok
    assert deploy_by_hand(workflows, dev, version_of(weak_artifact_dir)).ok
    dev.set_pr(7, pr_json(7, labels=()))
    train = run_job(workflows["train.yml"], "train", pull_request(7), dev)
    assert train.outputs["comparison-verdict"] == "pass"  # the default model beats the weak one
    report = train.outputs["comparison-report"]
    assert (
        f"| model version | `{version_of(weak_artifact_dir)}` | `{version_of(artifact_dir)}` |"
        in report
    )


def test_a_version_not_in_the_registry_is_one_line_and_nothing_is_deployed(
    workflows: dict[str, dict[str, Any]], dev: World, weak_artifact_dir: Path
) -> None:
    assert run_job(
        workflows["deploy.yml"], "deploy-dev", push(), dev, {"model-version": dev.model_version}
    ).ok
    updates = len(dev.operations())
    job = deploy_by_hand(workflows, dev, "20990101T000000Z-deadbee-000000")
    assert not job.ok
    find = next(s for s in job.steps if s.name.startswith("Find model version"))
    assert find.outcome == "failure"
    error = find.log.strip().splitlines()[-1]
    assert error == (
        f"acr_image: model version 20990101T000000Z-deadbee-000000 is not in {DEV_REGISTRY}/"
        f"banknote-api (newest there: {dev.model_version}, {version_of(weak_artifact_dir)})"
    )
    assert job.outcome("pulumi up") == "skipped"
    assert len(dev.operations()) == updates


def test_a_rollback_before_dev_exists_creates_nothing(
    workflows: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    world = World(tmp_path / "world")
    job = deploy_by_hand(workflows, world, "20261101T120000Z-1234567-abcdef")
    assert not job.ok
    find = next(s for s in job.steps if s.name.startswith("Find model version"))
    assert "no stack named 'dev' found" in find.log
    assert world.stacks() == {}
    assert world.operations() == []


@pytest.mark.parametrize("version", ["v1; rm -rf /", "", "a" * 129, "v1/../x"])
def test_resolve_refuses_what_is_not_a_model_version(version: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "acr_image.py"), "resolve", "--stack", "dev",
         "--version", version],
        capture_output=True, text=True, check=False, cwd=tmp_path,
        env={**os.environ, "PATH": "/nonexistent"},  # refused before any CLI is run
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("acr_image: ")
    assert "is not a model version" in result.stderr
    assert result.stderr.count("\n") == 1
