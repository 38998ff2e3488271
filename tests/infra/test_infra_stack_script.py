"""scripts/stack.sh (make stack-up / stack-down): argument checks, and the pulumi commands it
runs, recorded by a stand-in `pulumi` on PATH (the real CLI cannot run here)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "stack.sh"

# Logs its arguments (and GIT_COMMIT) one call per line; answers `stack output url`.
FAKE_PULUMI = """#!/usr/bin/env bash
echo "$* | GIT_COMMIT=${GIT_COMMIT:-}" >> "$PULUMI_CALLS"
if [[ "$1 $2 $3" == "stack output url" ]]; then echo "http://x.azurecontainer.io:8000/"; fi
if [[ "$1 $2" == "stack select" && "$3" == "gone" ]]; then exit 255; fi
exit 0
"""


@pytest.fixture
def fake_pulumi(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pulumi = bin_dir / "pulumi"
    pulumi.write_text(FAKE_PULUMI)
    pulumi.chmod(0o755)
    calls = tmp_path / "calls.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PULUMI_CALLS": str(calls),
    }
    for name in ("PULUMI_SECRETS_PROVIDER", "AZURE_LOCATION"):
        env.pop(name, None)
    return env, calls


def stack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "usage: bash scripts/stack.sh up|down NAME"),
        (("sideways", "me"), "usage:"),
        (("up",), "no stack name: make stack-up STACK=<name>"),
        (("up", "bad name"), "invalid stack name 'bad name'"),
        (("up", "dev"), "stack 'dev' is deployed by CI"),
        (("down", "pr-42"), "stack 'pr-42' is deployed by CI"),
    ],
)
def test_bad_arguments_give_one_clear_line(
    fake_pulumi: tuple[dict[str, str], Path], args: tuple[str, ...], message: str
) -> None:
    env, calls = fake_pulumi
    result = stack(env, *args)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("stack: ")
    assert message in result.stderr
    assert not calls.exists()  # refused before touching Pulumi


def test_up_creates_deploys_and_prints_the_url(fake_pulumi: tuple[dict[str, str], Path]) -> None:
    env, calls = fake_pulumi
    env = {
        **env,
        "PULUMI_SECRETS_PROVIDER": "azurekeyvault://kv.vault.azure.net/keys/pulumi-secrets",
        "AZURE_LOCATION": "northeurope",
    }
    result = stack(env, "up", "alice")
    assert result.returncode == 0, result.stderr
    assert "stack alice is up: http://x.azurecontainer.io:8000/" in result.stdout
    commands = [line.split(" | ")[0] for line in calls.read_text().splitlines()]
    assert commands == [
        "whoami",
        "stack select --create --secrets-provider "
        "azurekeyvault://kv.vault.azure.net/keys/pulumi-secrets alice",
        "config set location northeurope --stack alice",
        "up --yes --stack alice",
        "stack output url --stack alice",
    ]
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    up_line = calls.read_text().splitlines()[3]
    assert up_line.endswith(f"GIT_COMMIT={commit}")


def test_up_without_optional_settings(fake_pulumi: tuple[dict[str, str], Path]) -> None:
    env, calls = fake_pulumi
    assert stack(env, "up", "bob").returncode == 0
    commands = [line.split(" | ")[0] for line in calls.read_text().splitlines()]
    assert commands[1] == "stack select --create bob"
    assert not any(c.startswith("config set") for c in commands)


def test_down_destroys_then_removes(fake_pulumi: tuple[dict[str, str], Path]) -> None:
    env, calls = fake_pulumi
    result = stack(env, "down", "alice")
    assert result.returncode == 0, result.stderr
    commands = [line.split(" | ")[0] for line in calls.read_text().splitlines()]
    assert commands == [
        "whoami",
        "stack select alice",
        "destroy --yes --stack alice",
        "stack rm --yes alice",
    ]


def test_down_of_an_unknown_stack_fails_clearly(fake_pulumi: tuple[dict[str, str], Path]) -> None:
    env, _ = fake_pulumi
    result = stack(env, "down", "gone")
    assert result.returncode != 0
    assert result.stderr == "stack: no stack named 'gone' in this backend\n"


def test_missing_cli_is_reported(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    if any((Path(p) / "pulumi").exists() for p in env["PATH"].split(os.pathsep)):
        pytest.skip("a real pulumi CLI is installed in /usr/bin or /bin")
    result = stack(env, "up", "alice")
    assert result.returncode != 0
    assert "the pulumi CLI is not installed" in result.stderr
