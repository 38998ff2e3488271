"""The Makefile, run for real by GNU make: which lock each command installs, and its help.

The install itself is replaced (PIP_INSTALL on make's command line, which overrides the
Makefile's own) by an `echo`, so what make decides to install is visible in seconds; the venv
is a real one made by scripts/ensure-venv.sh.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
DEV_LOCK = f"requirements/dev-{PYTHON}.txt"
RUN_LOCK = f"requirements/run-{PYTHON}.txt"


def make(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """GNU make as a person runs it: not a sub-make of the `make test` that may run this test
    (MAKELEVEL and MAKEFLAGS would make it print `make[1]: ...` and share a jobserver)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Makefile, scripts/ensure-venv.sh and the locks, in a directory of their own; its
    venv is made once (pip's ensurepip takes most of a test's time) and kept for each test."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "Makefile", root)
    shutil.copytree(ROOT / "requirements", root / "requirements")
    (root / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "ensure-venv.sh", root / "scripts")
    return root


@pytest.fixture
def project(made: Path) -> Path:
    """`made` with nothing installed yet: no stamp, locks written long ago."""
    for stamp in made.glob(".venv/.installed-*"):
        stamp.unlink()
    past = time.time() - 3600
    for lock in made.glob("requirements/*.txt"):
        os.utime(lock, (past, past))
    return made


def installs(cwd: Path, target: str) -> list[str]:
    """The locks `make TARGET` installs (each install echoed, not run)."""
    result = make(cwd, target, f"PYTHON_BASE={sys.executable}", "PIP_INSTALL=echo INSTALL")
    assert result.returncode == 0, result.stderr
    return re.findall(r"^INSTALL (\S+)$", result.stdout, re.M)


def planned(cwd: Path, target: str) -> str:
    """What `make -n TARGET` would run."""
    result = make(cwd, "-n", target, f"PYTHON_BASE={sys.executable}")
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_run_installs_the_run_lock_and_test_upgrades_to_dev(project: Path) -> None:
    # The newcomer's first `make run`: the run lock only, into a fresh venv of this Python.
    assert installs(project, "venv-run") == [RUN_LOCK]
    assert (project / ".venv/bin/python").exists()
    assert installs(project, "venv-run") == []  # the stamp holds
    assert f"-r {DEV_LOCK}" not in planned(project, "run")
    # `make test` (via lint) and `make test-fast` need the dev lock: a run venv is upgraded.
    for target in ("test", "lint", "test-fast"):
        assert f"-r {DEV_LOCK}" in planned(project, target), target
    assert installs(project, "venv") == [DEV_LOCK]
    # `make run` after `make test` installs nothing: the dev lock holds every run pin.
    assert installs(project, "venv-run") == []
    assert installs(project, "venv") == []
    assert "pip install" not in planned(project, "run")


@pytest.mark.slow
def test_a_changed_lock_is_installed_again(project: Path) -> None:
    def age(path: str, seconds_ago: float) -> None:
        then = time.time() - seconds_ago
        os.utime(project / path, (then, then))

    assert installs(project, "venv") == [DEV_LOCK]
    age(".venv/.installed-dev", 600)
    age(".venv/.installed-run", 600)
    age(RUN_LOCK, 300)  # `make lock` rewrote the run lock after the install
    assert installs(project, "venv-run") == [RUN_LOCK]
    assert installs(project, "venv") == []
    age(DEV_LOCK, 60)  # ... and the dev lock
    assert installs(project, "venv") == [DEV_LOCK]
    assert installs(project, "venv-run") == []


def test_a_python_without_a_lock_is_one_clear_line(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "Makefile", project)
    shutil.copytree(ROOT / "requirements", project / "requirements")
    shutil.copytree(ROOT / "scripts", project / "scripts")
    old = tmp_path / "python3.10"
    old.write_text("#!/bin/sh\necho 3.10\n")  # answers the version question like Python 3.10
    old.chmod(0o755)
    result = make(project, "venv-run", f"PYTHON_BASE={old}")
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if not line.startswith("make: *** ")]
    locked = ", ".join(sorted(p.stem[4:] for p in (ROOT / "requirements").glob("dev-3.*.txt")))
    assert ours == [
        f"make venv: {old} is Python 3.10; this project has locks for {locked}"
        " (make ... PYTHON_BASE=python3.X)"
    ]
    assert not (project / ".venv").exists()


def test_help_lists_every_command_with_its_description() -> None:
    result = make(ROOT, "help")
    assert result.returncode == 0, result.stderr
    assert "$(" not in result.stdout  # make does not expand variables in this text
    listed = dict(re.findall(r"^  make (\S+)\s+(.+)$", result.stdout, re.M))
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert phony
    aliases = {"serve"}  # `make serve` is `make run`
    assert set(listed) == set(phony.group(1).split()) - aliases
    assert all(description.strip() for description in listed.values())


def test_test_fast_leaves_out_containers_browsers_and_slow_tests() -> None:
    plan = planned(ROOT, "test-fast")
    line = next(line for line in plan.splitlines() if " -m pytest" in line)
    markers = re.search(r'-m "([^"]+)" (.+)$', line)
    assert markers, line
    assert markers.group(1) == "not container and not browser and not slow"
    paths = markers.group(2).split()
    assert {"tests/contract", "tests/api"} <= set(paths)
    assert all((ROOT / path).exists() for path in paths), paths
    # Every marker it names is registered (pytest --strict-markers would reject a typo).
    pyproject = (ROOT / "pyproject.toml").read_text()
    for marker in ("container", "browser", "slow"):
        assert f'"{marker}: ' in pyproject
