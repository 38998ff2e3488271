"""The command-line tools a rollout drives, for one stack: the Pulumi CLI and the Azure CLI, and
what they write for the workflow (step outputs, the job summary)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from infra import config
from infra.rollout.azure import ContainerApps
from infra.rollout.policy import RolloutPolicy

UP: Final = ("up", "--yes", "--skip-preview")

# runner(args, echo=True) -> the finished process; echo=False keeps its output out of the log.
Runner = Callable[..., "subprocess.CompletedProcess[str]"]


class RolloutError(Exception):
    """A failure to report as one line on stderr."""


def run_tool(args: Sequence[str], echo: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `pulumi` or `az`, echoing its output unless told not to, and return the result."""
    try:
        result = subprocess.run(  # noqa: S603 - fixed programs, arguments from this module
            list(args), capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise RolloutError(f"{args[0]} is not installed") from None
    if echo:
        sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result


@dataclass
class Stack:
    """One stack, through the Pulumi CLI and the Azure CLI (both run by `runner`)."""

    stack: str
    runner: Runner = run_tool
    outputs_written: dict[str, str] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)

    def pulumi(self, *args: str, echo: bool = True) -> subprocess.CompletedProcess[str]:
        return self.runner(["pulumi", *args], echo=echo)

    def az(self, *args: str, echo: bool = True) -> subprocess.CompletedProcess[str]:
        return self.runner(["az", *args], echo=echo)

    @property
    def apps(self) -> ContainerApps:
        return ContainerApps(self.az)

    def up(self) -> None:
        if self.pulumi(*UP, "--stack", self.stack).returncode != 0:
            raise RolloutError(f"pulumi up of {self.stack} failed (its output is above)")

    def set_config(self, **values: str) -> None:
        for key, value in values.items():
            if self.pulumi("config", "set", "--stack", self.stack, key, value).returncode != 0:
                raise RolloutError(f"cannot set config {key} of {self.stack}")

    def config_values(self) -> dict[str, str]:
        """The stack's config as `pulumi config --json` lists it, keys without the project."""
        result = self.pulumi("config", "--json", "--stack", self.stack, echo=False)
        if result.returncode != 0:
            raise RolloutError(f"cannot read the config of {self.stack}")
        listed: dict[str, Any] = json.loads(result.stdout or "{}")
        return {
            key.split(":", 1)[-1]: str(entry.get("value", ""))
            for key, entry in listed.items()
            if isinstance(entry, dict)
        }

    def policy(self) -> RolloutPolicy:
        """The steps, holds and gate thresholds from the stack's config (defaults otherwise)."""
        values = self.config_values()

        def get(key: str) -> str:
            value = values.get(key, "").strip()
            return value or config.DEFAULTS[key]

        return config.rollout_policy(get)

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs ({} for a stack that was never deployed)."""
        result = self.pulumi("stack", "output", "--json", "--stack", self.stack, echo=False)
        if result.returncode != 0:
            raise RolloutError(f"cannot read the outputs of {self.stack}")
        values: dict[str, Any] = json.loads(result.stdout or "{}")
        return values

    def output(self, name: str, value: str) -> None:
        """A step output for the workflow (and the record the tests read)."""
        self.outputs_written[name] = value
        path = os.environ.get("GITHUB_OUTPUT")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(f"{name}={value}\n")

    def report(self, markdown: str) -> None:
        """Append to the job summary (and to `summary`, which the tests read)."""
        self.summary.append(markdown)
        path = os.environ.get("GITHUB_STEP_SUMMARY")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(markdown + "\n")

    def state(self) -> list[dict[str, Any]]:
        """The resources in the stack's state (`pulumi stack export`)."""
        exported = self.pulumi("stack", "export", "--stack", self.stack, echo=False)
        if exported.returncode != 0:
            raise RolloutError(f"cannot export stack {self.stack}")
        deployment = json.loads(exported.stdout or "{}").get("deployment", {})
        resources: list[dict[str, Any]] = deployment.get("resources") or []
        return resources
