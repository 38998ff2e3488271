"""The Pulumi project files: documented keys and defaults that match the programs, the dev
stack's config, and the entry points working the way the Pulumi CLI runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract import FORMAT_VERSION
from infra import config
from infra.bootstrap import config as bootstrap_config
from tests.infra.pulumi_harness import MODEL_NAME, MODEL_VERSION

ROOT = Path(__file__).resolve().parents[2]


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize(
    ("project_file", "defaults", "venv"),
    [
        ("Pulumi.yaml", config.DEFAULTS, ".venv"),
        ("infra/bootstrap/Pulumi.yaml", bootstrap_config.DEFAULTS, "../../.venv"),
    ],
)
def test_every_key_documented_with_the_programs_default(
    project_file: str, defaults: dict[str, str], venv: str
) -> None:
    project = load(ROOT / project_file)
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": venv},
    }
    assert ((ROOT / project_file).parent / venv).resolve() == ROOT / ".venv"
    keys = project["config"]
    assert set(keys) == set(defaults)
    for key, spec in keys.items():
        assert len(spec["description"]) > 20, key
        assert str(spec["default"]) == defaults[key], key


def test_app_project_runs_the_infra_package() -> None:
    project = load(ROOT / "Pulumi.yaml")
    assert project["name"] == "banknote"
    assert project["main"] == "infra/"
    assert (ROOT / "infra" / "__main__.py").is_file()
    assert (ROOT / "infra" / "bootstrap" / "__main__.py").is_file()


def test_dev_stack_config_is_known_and_valid() -> None:
    values = load(ROOT / "Pulumi.dev.yaml")["config"]
    raw = {}
    for key, value in values.items():
        namespace, _, name = key.partition(":")
        assert namespace == "banknote", key
        raw[name] = str(value)
    cfg = config.parse(raw, project="banknote", stack="dev", env={})
    assert cfg.dns_label == "banknote-dev"


# Run as the Pulumi CLI does. The engine computes the program's working directory from the
# project's `main` (pulumi/pulumi pkg/engine/project.go `getPwdMain`: "if maininfo.IsDir() { pwd =
# main; main = "." }"), and pulumi-language-python-exec configures the runtime with
# --root_directory (the directory of Pulumi.yaml), does `os.chdir(args.pwd)` and then
# `runpy.run_path(args.PROGRAM, run_name="__main__")` with PROGRAM ".". This does the same in a
# fresh interpreter (-I: nothing of this checkout on sys.path), under mocks instead of an engine,
# and reports the outputs and the Docker build inputs the provider would receive. A preview, as
# in a pull request, so nothing is pushed and no token is exchanged.
ENTRY = textwrap.dedent(
    """
    import json, os, runpy, sys
    import pulumi
    from pulumi.runtime import mocks, settings

    images = []

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            state = dict(args.inputs)
            if args.typ.endswith("Registry"):
                state["loginServer"] = "r.azurecr.io"
            if args.typ.endswith("Image"):
                images.append(args.inputs["build"])
                state["repoDigest"] = "r.azurecr.io/banknote-api@sha256:" + "0" * 64
            if args.typ.endswith("ContainerGroup"):  # in a preview, unknowns are left out
                state.setdefault("ipAddress", {})["fqdn"] = "x.westeurope.azurecontainer.io"
                state.pop("identity", None)
            if args.typ.endswith("Vault"):
                state["properties"]["vaultUri"] = "https://v.vault.azure.net/"
            if args.typ.endswith("ManagedEnvironment"):
                state["defaultDomain"] = "d1.westeurope.azurecontainerapps.io"
            if args.typ.endswith("ContainerApp"):
                state.pop("identity", None)  # Azure answers with a map; left out as unknown
            state.setdefault("principalId", "p")
            state.setdefault("clientId", "c")
            return args.name + "-id", state

        def call(self, args):
            return {"subscriptionId": "s", "tenantId": "t", "token": "x", "clientId": "c",
                    "objectId": "o"}

    project, stack, root, pwd, cfg = sys.argv[1:6]
    pulumi.runtime.set_mocks(Mocks(), project=project, stack=stack, preview=True)
    settings.SETTINGS.root_directory = root
    pulumi.runtime.set_all_config({f"{project}:{k}": v for k, v in json.loads(cfg).items()})
    os.chdir(pwd)

    @pulumi.runtime.test
    def run():
        runpy.run_path(".", run_name="__main__")

    try:
        run()  # returns once every registration has been answered
    finally:
        # As pulumi-language-python-exec does whatever the program did (`loop.close()` in its
        # `finally`). The mocks may have made more than one loop: collect the others now, while
        # their sockets are open, not torn down in any order at interpreter exit.
        import asyncio, gc
        asyncio.get_event_loop_policy().get_event_loop().close()
        gc.collect()
    outputs = pulumi.runtime.settings.get_root_resource().outputs
    # Plain values as they are; the rest (Outputs, unknown in a preview) by name only.
    known = {k: (v if isinstance(v, str) else None) for k, v in outputs.items()}
    print(json.dumps({"outputs": known, "images": images}))
    """
)


def run_like_the_cli(
    project: str, root: Path, pwd: Path, cfg: dict[str, str], stack: str = "dev"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-c", ENTRY, project, stack, str(root), str(pwd), json.dumps(cfg)],
        cwd=ROOT,  # the cwd of `pulumi up` itself does not matter; the host chdirs to pwd
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout of the app project after the train stage: Pulumi.yaml, the program and the
    artifact contract it reads through, the Dockerfile, and the model artifact where the
    pipeline puts it (artifacts/model)."""
    root = tmp_path / "checkout"
    root.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "Dockerfile"):
        shutil.copy(ROOT / name, root / name)
    for package in ("infra", "contract"):
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    model = root / "artifacts" / "model"
    model.mkdir(parents=True)
    (model / "metadata.json").write_text(
        json.dumps(
            {
                "format_version": FORMAT_VERSION,
                "model_version": MODEL_VERSION,
                "contract": {"name": MODEL_NAME},
            }
        ),
        encoding="utf-8",
    )
    return root


def test_the_app_runs_from_infra_with_the_default_model_dir(checkout: Path) -> None:
    # Default modelDir (artifacts/model), the dev stack's committed config, cwd infra/.
    dev = load(checkout / "Pulumi.dev.yaml")["config"]
    cfg = {key.removeprefix("banknote:"): str(value) for key, value in dev.items()}
    assert "modelDir" not in cfg
    result = run_like_the_cli("banknote", checkout, checkout / "infra", cfg)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["outputs"]["model_version"] == MODEL_VERSION
    # The docker provider runs in infra/ too: it gets the checkout's root and its Dockerfile,
    # as absolute paths (pulumi-docker #572/#844: a relative Dockerfile is not found there).
    (build,) = report["images"]
    assert build["context"] == str(checkout)
    assert build["dockerfile"] == str(checkout / "Dockerfile")
    assert build["platform"] == "linux/amd64"


def test_prods_first_registry_only_run_needs_no_artifact_and_builds_nothing(
    checkout: Path,
) -> None:
    # As scripts/rollout.py import-image runs it on prod's first rollout, from infra/, with the
    # committed config and no model artifact: prod deploys images, never builds. (With config
    # image the program reads the image's label from prod's registry over HTTPS, which this
    # fresh interpreter cannot reach; tests/infra/test_infra_rollout_script.py runs that part
    # against a fake registry.)
    shutil.rmtree(checkout / "artifacts")
    prod = load(checkout / "Pulumi.prod.yaml")["config"]
    cfg = {key.removeprefix("banknote:"): str(value) for key, value in prod.items()}
    cfg["registryOnly"] = "true"
    result = run_like_the_cli("banknote", checkout, checkout / "infra", cfg, stack="prod")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["images"] == []  # no docker build
    assert set(report["outputs"]) == {"registry", "resource_group"}
    assert report["outputs"]["resource_group"] == "rg-banknote_prod"


def test_prod_from_a_clean_checkout_is_refused_and_declares_nothing(checkout: Path) -> None:
    # `pulumi up --stack prod` as the CLI runs it, from a checkout of the committed files with
    # nothing a CI job set: the program refuses before it declares anything or asks Azure, so
    # nothing that serves can change (docs/deploy/prod.md, "Where the state lives"). The
    # artifact is there: prod must not build it either.
    prod = load(checkout / "Pulumi.prod.yaml")["config"]
    cfg = {key.removeprefix("banknote:"): str(value) for key, value in prod.items()}
    result = run_like_the_cli("banknote", checkout, checkout / "infra", cfg, stack="prod")
    assert result.returncode != 0
    assert "config image is required with platform containerapps" in result.stderr
    assert "Traceback" not in result.stderr.split("ConfigError")[-1]
    assert result.stdout == ""  # no report: the program never got to its outputs


def test_the_app_names_the_missing_artifact_by_its_absolute_path(checkout: Path) -> None:
    shutil.rmtree(checkout / "artifacts")
    result = run_like_the_cli("banknote", checkout, checkout / "infra", {})
    assert result.returncode != 0
    assert f"model artifact not found: {checkout / 'artifacts' / 'model'} does not exist" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr.split("ConfigError")[-1]


def test_the_bootstrap_runs_from_its_own_directory() -> None:
    # infra/bootstrap/Pulumi.yaml has no `main`: the CLI runs it in that directory.
    assert "main" not in load(ROOT / "infra" / "bootstrap" / "Pulumi.yaml")
    bootstrap = ROOT / "infra" / "bootstrap"
    result = run_like_the_cli(
        "banknote-bootstrap", bootstrap, bootstrap, {"githubRepository": "octo/banknote"}
    )
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout.strip().splitlines()[-1])["outputs"]
    assert {"AZURE_CLIENT_ID", "AZURE_PR_CLIENT_ID", "PULUMI_SECRETS_PROVIDER"} <= set(outputs)
