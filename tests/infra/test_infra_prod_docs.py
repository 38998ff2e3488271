"""docs/deploy/prod.md against its sources of truth: the rollout keys and their defaults
(infra/config.py, Pulumi.yaml) and the rollout's commands (infra/rollout/run.py)."""

from __future__ import annotations

import argparse
import re

import yaml

from infra import config
from infra.rollout import run
from tests.infra.pulumi_harness import ROOT

PAGE = (ROOT / "docs" / "deploy" / "prod.md").read_text(encoding="utf-8")
ROLLOUT_KEYS = {k for k in config.DEFAULTS if k.startswith(("rollout", "gate"))} - {"rolloutId"}


def table_rows(heading: str) -> list[list[str]]:
    """The body rows of the first table under a `## heading`, cells stripped."""
    start = PAGE.index(f"\n## {heading}\n")
    end = PAGE.find("\n## ", start + 1)
    section = PAGE[start : end if end != -1 else None]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def test_the_keys_table_gives_every_rollout_key_with_its_default() -> None:
    documented = {row[0].strip("`"): row[1].strip("`") for row in table_rows("Steps and holds")}
    assert set(documented) == ROLLOUT_KEYS
    for key, default in documented.items():
        assert default == config.DEFAULTS[key], key
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert set(project) >= ROLLOUT_KEYS


def test_every_command_on_the_page_is_a_command_of_the_script() -> None:
    parser = run.build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    commands = set(subparsers.choices)
    named = set(re.findall(r"scripts/rollout\.py ([a-z-]+)", PAGE))
    assert named == commands
