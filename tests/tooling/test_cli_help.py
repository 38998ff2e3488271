"""Every command line's --help works and describes each option, not only its default.

Covers `python -m model`, `python -m api`, `python -m contract` and the Python scripts in
scripts/. Each exposes `build_parser()`; the walk below reads every option of every subcommand,
and each --help is also run for real (exit code 0).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import api.__main__
import contract.__main__
import model.cli
from infra.rollout import run as rollout
from scripts import acr_image, pulumi_stack, smoke

ROOT = Path(__file__).resolve().parents[2]
# How each is run, and its parser.
CLIS: dict[str, tuple[list[str], Callable[[], argparse.ArgumentParser]]] = {
    "model": ([sys.executable, "-m", "model"], model.cli.build_parser),
    "api": ([sys.executable, "-m", "api"], api.__main__.build_parser),
    "contract": ([sys.executable, "-m", "contract"], contract.__main__.build_parser),
    "acr_image": ([sys.executable, "scripts/acr_image.py"], acr_image.build_parser),
    "pulumi_stack": ([sys.executable, "scripts/pulumi_stack.py"], pulumi_stack.build_parser),
    "rollout": ([sys.executable, "scripts/rollout.py"], rollout.build_parser),
    "smoke": ([sys.executable, "scripts/smoke.py"], smoke.build_parser),
}


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """The parser and each of its subcommands' parsers, with the words that reach them."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


def described(text: str | None) -> bool:
    """At least two words once the default (`%(default)s`, "(default ...)") is taken out."""
    if not text or text == argparse.SUPPRESS:
        return False
    bare = re.sub(r"\(default[^)]*\)|%\([a-z_]+\)s", "", text)
    return len(re.findall(r"[A-Za-z]{2,}", bare)) >= 2


def test_every_python_script_in_scripts_is_covered() -> None:
    scripts = {p.stem for p in (ROOT / "scripts").glob("*.py")}
    assert scripts <= set(CLIS), scripts - set(CLIS)


@pytest.mark.parametrize("name", CLIS)
def test_every_option_and_subcommand_has_a_description(name: str) -> None:
    _, build = CLIS[name]
    missing = []
    for path, parser in commands(build()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if not described(choice.help):
                        missing.append(f"{' '.join(path)} {choice.dest}: {choice.help!r}")
                continue
            if not described(action.help):
                option = "/".join(action.option_strings) or action.dest
                missing.append(f"{' '.join((name, *path))} {option}: {action.help!r}")
    assert missing == []


def test_the_description_check_catches_a_default_alone() -> None:
    assert not described("%(default)s")
    assert not described("gate, %(default)s")
    assert not described(None)
    assert described("quality gate: least holdout accuracy (default %(default)s)")


@pytest.mark.parametrize("name", CLIS)
def test_help_exits_0_for_the_command_and_each_subcommand(name: str) -> None:
    argv, build = CLIS[name]
    for path, _ in commands(build()):
        result = subprocess.run(
            [*argv, *path, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, (path, result.stderr)
        assert result.stdout.startswith("usage: "), (path, result.stdout)
        assert result.stderr == "", (path, result.stderr)
