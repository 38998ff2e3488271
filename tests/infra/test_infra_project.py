"""The Pulumi project files: documented keys and defaults that match the programs, the dev
stack's config, and the entry points working the way the Pulumi CLI runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import config
from infra.bootstrap import config as bootstrap_config

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


# Run as the Pulumi CLI does (pulumi-language-python-exec): the directory by path with runpy,
# isolated from this checkout's sys.path, under mocks instead of an engine. A preview, as in a
# pull request, so nothing is pushed and no token is exchanged.
ENTRY = textwrap.dedent(
    """
    import json, runpy, sys
    import pulumi
    from pulumi.runtime import mocks

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            state = dict(args.inputs)
            if args.typ.endswith("Registry"):
                state["loginServer"] = "r.azurecr.io"
            if args.typ.endswith("Image"):
                state["repoDigest"] = "r.azurecr.io/banknote-api@sha256:" + "0" * 64
            if args.typ.endswith("ContainerGroup"):  # in a preview, unknowns are left out
                state.setdefault("ipAddress", {})["fqdn"] = "x.westeurope.azurecontainer.io"
                state.pop("identity", None)
            if args.typ.endswith("Vault"):
                state["properties"]["vaultUri"] = "https://v.vault.azure.net/"
            state.setdefault("principalId", "p")
            state.setdefault("clientId", "c")
            return args.name + "-id", state

        def call(self, args):
            return {"subscriptionId": "s", "tenantId": "t", "token": "x", "clientId": "c",
                    "objectId": "o"}

    project, stack, program, cfg = sys.argv[1:5]
    pulumi.runtime.set_mocks(Mocks(), project=project, stack=stack, preview=True)
    pulumi.runtime.set_all_config({f"{project}:{k}": v for k, v in json.loads(cfg).items()})

    @pulumi.runtime.test
    def run():
        runpy.run_path(program, run_name="__main__")
        print(sorted(pulumi.runtime.settings.get_root_resource().outputs))

    run()
    """
)


@pytest.mark.parametrize(
    ("project", "program", "cfg", "first_output"),
    [
        ("banknote", "infra/", {"modelDir": "MODEL_DIR"}, "docs_url"),
        (
            "banknote-bootstrap",
            "infra/bootstrap",
            {"githubRepository": "octo/banknote"},
            "AZURE_CLIENT_ID",
        ),
    ],
)
def test_entry_points_run_as_pulumi_runs_them(
    model_dir: Path, project: str, program: str, cfg: dict[str, str], first_output: str
) -> None:
    cfg = {k: v.replace("MODEL_DIR", str(model_dir)) for k, v in cfg.items()}
    result = subprocess.run(
        [sys.executable, "-I", "-c", ENTRY, project, "dev", program, json.dumps(cfg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(f"['{first_output}'"), result.stdout
