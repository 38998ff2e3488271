"""scripts/stack.sh (make stack-up / stack-down) and scripts/pulumi_stack.py: argument checks,
the pulumi commands they run, and the secrets manager every engine operation ends up with,
against the stand-in CLI of tests/pulumi_cli.py (the real CLI cannot run here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests import pulumi_cli

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "stack.sh"
KEY_VAULT = "azurekeyvault://kvbanknotestate-1.vault.azure.net/keys/pulumi-secrets"


class Machine:
    """A developer's clone (stack.sh, Pulumi.yaml, .venv) with the stand-in CLI on PATH; the
    backend directory is shared between machines, like the blob container."""

    def __init__(self, root: Path, backend: Path) -> None:
        self.root = root
        (root / "scripts").mkdir(parents=True)
        for name in ("stack.sh", "pulumi_stack.py"):
            shutil.copy(ROOT / "scripts" / name, root / "scripts" / name)
        shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
        (root / ".venv").symlink_to(ROOT / ".venv")
        pulumi_cli.install(root / "bin")
        self.backend = backend
        self.env = {
            "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(root / "home"),
            "PULUMI_HOME": str(root / "home" / ".pulumi"),
            "FAKE_PULUMI_BACKEND": str(backend),
            "PULUMI_BACKEND_URL": "azblob://pulumi-state?storage_account=banknotestate1",
            "PULUMI_SECRETS_PROVIDER": KEY_VAULT,
        }

    def stack(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.root / "scripts" / "stack.sh"), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def backend(tmp_path: Path) -> Path:
    return tmp_path / "backend"


@pytest.fixture
def machine(tmp_path: Path, backend: Path) -> Machine:
    return Machine(tmp_path / "laptop", backend)


def commands(backend: Path) -> list[str]:
    return [line.split(" | ")[0] for line in pulumi_cli.calls(backend)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "usage: bash scripts/stack.sh up|down NAME"),
        (("sideways", "me"), "usage:"),
        (("up",), "no stack name: make stack-up STACK=<name>"),
        (("up", "bad name"), "invalid stack name 'bad name'"),
        (("up", "dev"), "stack 'dev' is deployed by CI"),
        (("up", "prod"), "stack 'prod' is deployed by CI"),
        (("up", "pr"), "stack 'pr' is deployed by CI"),
        (("down", "pr-42"), "stack 'pr-42' is deployed by CI"),
    ],
)
def test_bad_arguments_give_one_clear_line(
    machine: Machine, backend: Path, args: tuple[str, ...], message: str
) -> None:
    result = machine.stack(*args)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("stack: ")
    assert message in result.stderr
    assert commands(backend) == []  # refused before touching Pulumi


@pytest.mark.parametrize(
    ("unset", "message"),
    [
        ("PULUMI_BACKEND_URL", "PULUMI_BACKEND_URL is not set"),
        ("PULUMI_SECRETS_PROVIDER", "PULUMI_SECRETS_PROVIDER is not set"),
    ],
)
def test_missing_bootstrap_values_are_named(
    machine: Machine, backend: Path, unset: str, message: str
) -> None:
    machine.env.pop(unset)
    result = machine.stack("up", "alice")
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert commands(backend) == []


def test_up_creates_with_key_vault_deploys_and_prints_the_url(
    machine: Machine, backend: Path
) -> None:
    git = ["git", "-C", str(machine.root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    result = machine.stack("up", "alice", AZURE_LOCATION="northeurope")
    assert result.returncode == 0, result.stderr
    assert "stack alice is up: http://banknote.westeurope.azurecontainer.io:8000/" in result.stdout
    assert commands(backend) == [
        "login azblob://pulumi-state?storage_account=banknotestate1",
        "stack ls --json",
        f"stack init --secrets-provider {KEY_VAULT} alice",
        "config set location northeurope --stack alice",
        "config rm image --stack alice",  # no IMAGE: build, whatever an earlier run pinned
        "up --yes --stack alice",
        "stack output url --stack alice",
    ]
    # The commit goes to the program as GIT_COMMIT (REVISION build argument, git-commit tag).
    up_line = next(line for line in pulumi_cli.calls(backend) if line.startswith("up "))
    assert up_line.endswith(f"GIT_COMMIT={commit}")


def test_up_without_a_location_sets_no_config(machine: Machine, backend: Path) -> None:
    assert machine.stack("up", "bob").returncode == 0
    assert not any(c.startswith("config set") for c in commands(backend))


KNOWN_IMAGE = "banknotealice0a1b2c3d.azurecr.io/banknote-api@sha256:" + "ab" * 32


def stack_config(machine: Machine, stack: str) -> dict[str, str]:
    path = machine.root / f"Pulumi.{stack}.yaml"
    config: dict[str, str] = yaml.safe_load(path.read_text()).get("config") or {}
    return config


def test_image_deploys_a_known_image_and_a_plain_up_builds_again(
    machine: Machine, backend: Path
) -> None:
    # make stack-up STACK=alice IMAGE=<ref>: the stack's config `image` for this update.
    pinned = machine.stack("up", "alice", IMAGE=KNOWN_IMAGE)
    assert pinned.returncode == 0, pinned.stderr
    assert commands(backend)[-3:] == [
        f"config set image {KNOWN_IMAGE} --stack alice",
        "up --yes --stack alice",
        "stack output url --stack alice",
    ]
    assert stack_config(machine, "alice")["banknote:image"] == KNOWN_IMAGE
    outputs = json.loads(subprocess.run(
        ["pulumi", "stack", "output", "--json", "--stack", "alice"], cwd=machine.root,
        env=machine.env, capture_output=True, text=True, check=True,
    ).stdout)  # fmt: skip
    assert outputs["image"] == KNOWN_IMAGE
    # The config file keeps the key; the next plain `make stack-up` must build, not redeploy it.
    rebuilt = machine.stack("up", "alice")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "config rm image --stack alice" in commands(backend)
    assert "banknote:image" not in stack_config(machine, "alice")


@pytest.mark.parametrize(
    ("args", "prerequisite", "image"),
    [
        (["IMAGE=" + KNOWN_IMAGE], "venv", KNOWN_IMAGE),  # nothing to train for a known image
        ([], "contract", ""),  # the artifact check: train when there is no usable model
    ],
)
def test_make_stack_up_passes_image_only_when_given(
    args: list[str], prerequisite: str, image: str
) -> None:
    # `IMAGE ?= banknote-api:local` is the tag `make image` builds; only an IMAGE the developer
    # gives reaches stack.sh.
    result = subprocess.run(
        ["make", "-n", "stack-up", "STACK=alice", *args], cwd=ROOT, capture_output=True,
        text=True, check=True, env={k: v for k, v in os.environ.items() if k != "IMAGE"},
    )  # fmt: skip
    assert f'IMAGE="{image}" bash scripts/stack.sh up "alice"' in result.stdout
    assert ("-m contract" in result.stdout) == (prerequisite == "contract")


def test_every_operation_uses_key_vault_from_any_clone(tmp_path: Path, backend: Path) -> None:
    # Create on one laptop, update and remove from another clone: there Pulumi.alice.yaml does
    # not exist, so only the state can name the secrets manager.
    first, second = Machine(tmp_path / "one", backend), Machine(tmp_path / "two", backend)
    assert first.stack("up", "alice").returncode == 0
    assert not (second.root / "Pulumi.alice.yaml").exists()
    update = second.stack("up", "alice")
    assert update.returncode == 0, update.stderr
    down = second.stack("down", "alice")
    assert down.returncode == 0, down.stderr
    assert "stack alice destroyed and removed" in down.stdout
    ops = pulumi_cli.operations(backend)
    assert [(o["command"], o["secrets_manager"]) for o in ops] == [
        ("up", KEY_VAULT),
        ("up", KEY_VAULT),
        ("destroy", KEY_VAULT),
    ]
    assert json.loads((backend / "stacks.json").read_text()) == {}


def test_down_of_an_unknown_stack_is_a_no_op(machine: Machine, backend: Path) -> None:
    result = machine.stack("down", "gone")
    assert result.returncode == 0, result.stderr
    assert "no stack gone: nothing to remove" in result.stdout
    assert pulumi_cli.operations(backend) == []


def test_missing_cli_is_reported(machine: Machine) -> None:
    machine.env["PATH"] = "/usr/bin:/bin"
    if any((Path(p) / "pulumi").exists() for p in machine.env["PATH"].split(os.pathsep)):
        pytest.skip("a real pulumi CLI is installed in /usr/bin or /bin")
    result = machine.stack("up", "alice")
    assert result.returncode != 0
    assert "the pulumi CLI is not installed" in result.stderr


# scripts/pulumi_stack.py on its own: the states a stack can be in.
@pytest.fixture
def cli(tmp_path: Path, backend: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout (Pulumi.yaml) as cwd, the stand-in CLI on PATH, a runner home of its own."""
    bin_dir = tmp_path / "bin"
    pulumi_cli.install(bin_dir)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", checkout / "Pulumi.yaml")
    monkeypatch.chdir(checkout)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FAKE_PULUMI_BACKEND", str(backend))
    monkeypatch.setenv("PULUMI_BACKEND_URL", "azblob://pulumi-state?storage_account=x")
    monkeypatch.setenv("PULUMI_SECRETS_PROVIDER", KEY_VAULT)
    monkeypatch.setenv("PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER", "true")
    for name in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "GITHUB_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    return backend


def stacks_in(backend: Path) -> dict[str, dict[str, object]]:
    state: dict[str, dict[str, object]] = json.loads((backend / "stacks.json").read_text())
    return state


def test_prepare_without_create_reports_a_missing_stack(
    cli: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripts import pulumi_stack

    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    assert pulumi_stack.main(["prepare", "t-dev"]) == 0
    assert output.read_text() == "exists=false\n"
    assert not (cli / "stacks.json").exists()  # nothing was created


def test_an_empty_stack_without_a_secrets_manager_is_recreated_with_key_vault(cli: Path) -> None:
    from scripts import pulumi_stack

    # A stack made by a CLI older than v3.135 records no secrets manager in its state, so
    # there is nothing to fall back to; it holds no resources, so it can simply be re-made.
    cli.mkdir(parents=True, exist_ok=True)
    (cli / "stacks.json").write_text(
        json.dumps({"t-old": {"secrets_providers": None, "resources": 0, "locks": 0}})
    )
    assert pulumi_stack.main(["prepare", "t-old"]) == 0  # no create: counts as missing
    assert pulumi_cli.calls(cli)[-1].startswith("stack export --stack t-old")
    assert pulumi_stack.main(["prepare", "t-old", "--create"]) == 0
    calls = [c.split(" | ")[0] for c in pulumi_cli.calls(cli)]
    assert "stack rm --yes t-old" in calls
    assert calls[-1] == f"stack init --secrets-provider {KEY_VAULT} t-old"
    Path("Pulumi.t-old.yaml").unlink()  # the next job's fresh checkout
    result = subprocess.run(["pulumi", "up", "--yes", "--stack", "t-old"], check=False)
    assert result.returncode == 0
    assert pulumi_cli.operations(cli)[-1]["secrets_manager"] == KEY_VAULT


def test_stack_init_records_the_key_vault_provider_in_the_state(cli: Path) -> None:
    from scripts import pulumi_stack

    assert pulumi_stack.main(["prepare", "t-new", "--create"]) == 0
    state = stacks_in(cli)["t-new"]
    assert state["secrets_providers"] == {"type": "cloud", "state": {"url": KEY_VAULT}}


def test_prepare_refuses_to_run_without_the_fallback(
    cli: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts import pulumi_stack

    monkeypatch.delenv("PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER")
    assert pulumi_stack.main(["prepare", "t-x", "--create"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pulumi_stack: PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER must be true")
    assert err.count("\n") == 1


def test_destroy_waits_for_a_running_update_to_release_the_lock(
    cli: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripts import pulumi_stack

    assert pulumi_stack.main(["prepare", "t-pr-7", "--create"]) == 0
    assert (
        subprocess.run(["pulumi", "up", "--yes", "--stack", "t-pr-7"], check=False).returncode == 0
    )
    state = stacks_in(cli)
    state["t-pr-7"]["locks"] = 2  # another run's `pulumi up` holds the lock for two attempts
    (cli / "stacks.json").write_text(json.dumps(state))
    slept: list[float] = []
    monkeypatch.setattr(pulumi_stack.time, "sleep", slept.append)
    assert pulumi_stack.main(["destroy", "t-pr-7"]) == 0
    assert slept == [pulumi_stack.LOCK_RETRY_SECONDS] * 2
    assert "t-pr-7" not in stacks_in(cli)
    destroys = [o for o in pulumi_cli.operations(cli) if o["command"] == "destroy"]
    assert [o["secrets_manager"] for o in destroys] == [KEY_VAULT] * 3


def test_destroy_of_a_never_deployed_stack_just_removes_it(cli: Path) -> None:
    from scripts import pulumi_stack

    assert pulumi_stack.main(["prepare", "t-bare", "--create"]) == 0
    Path("Pulumi.t-bare.yaml").unlink()
    assert pulumi_stack.main(["destroy", "t-bare"]) == 0
    assert "t-bare" not in stacks_in(cli)
    assert pulumi_cli.operations(cli) == []  # nothing to destroy: no engine run
