"""The prod rollout on Azure Container Apps: promote dev's image, canary, then promote or roll back.

    python scripts/rollout.py import-image STACK --source REF --model-version VERSION
    python scripts/rollout.py canary STACK --image REF [--weight N] [--rollout-id ID]
    python scripts/rollout.py promote STACK
    python scripts/rollout.py rollback STACK --reason TEXT

Run by the prod job of deploy.yml (and by a person, README "Scale out: Azure Container Apps")
from the repository root, after `scripts/pulumi_stack.py prepare STACK --create` and `az login`.
Every step writes its results to $GITHUB_OUTPUT when set; errors are one line on stderr.

import-image  The same image, not a rebuild: creates (or keeps) the stack's registry with a
              targeted `pulumi up` of the registry component (targeting a component includes its
              children, pulumi/pulumi#7605), then copies REF, the digest dev built and
              smoke-tested, into it with `az acr import`, which keeps the digest. Output `image`.
canary        Phase 1: reads the serving revision from the stack output `stable_revision` (a
              failed canary's rollback leaves it on the old revision, so a later run starts from
              what really serves), then `pulumi up` with the new image at --weight percent
              (default 0) and the label `canary`. Outputs the URL to smoke-test: the canary's
              label URL, or on the first deploy the app's URL.
promote       Phase 2: `pulumi up` with canaryWeight 100, then deactivates the previous revision
              with the Azure CLI (the provider cannot; an inactive revision costs nothing and can
              be reactivated for a rollback).
rollback      The canary failed: `pulumi up` with rollback=true (the stable revision keeps 100 %,
              the canary loses its traffic entry and its label), then `az containerapp revision
              deactivate` of the canary, then exits 1 saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGISTRY_TYPE = "azure-native:containerregistry:Registry"
REGISTRY_COMPONENT = "banknote:app:PrivateRegistry"
REGISTRY_COMPONENT_NAME = "registry"
UP = ("up", "--yes", "--skip-preview")

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class RolloutError(Exception):
    """A failure to report as one line on stderr."""


def run_tool(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run `pulumi` or `az`, echoing its output, and return the result."""
    try:
        result = subprocess.run(  # noqa: S603 - fixed programs, arguments from this script
            list(args), capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise RolloutError(f"{args[0]} is not installed") from None
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result


@dataclass
class Rollout:
    """The rollout of one stack, through the Pulumi CLI and the Azure CLI."""

    stack: str
    runner: Runner = run_tool
    project_file: Path = Path("Pulumi.yaml")
    outputs_written: dict[str, str] = field(default_factory=dict)

    # -- tools ---------------------------------------------------------------------------------
    def pulumi(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.runner(["pulumi", *args])

    def az(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.runner(["az", *args])

    def up(self, *extra: str) -> None:
        if self.pulumi(*UP, "--stack", self.stack, *extra).returncode != 0:
            raise RolloutError(f"pulumi up of {self.stack} failed (its output is above)")

    def set_config(self, **values: str) -> None:
        for key, value in values.items():
            if self.pulumi("config", "set", "--stack", self.stack, key, value).returncode != 0:
                raise RolloutError(f"cannot set config {key} of {self.stack}")

    def config(self, key: str) -> str:
        """A config value of the stack, '' when unset."""
        result = self.pulumi("config", "get", "--stack", self.stack, key)
        return result.stdout.strip() if result.returncode == 0 else ""

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs ({} for a stack that was never deployed)."""
        result = self.pulumi("stack", "output", "--json", "--stack", self.stack)
        if result.returncode != 0:
            raise RolloutError(f"cannot read the outputs of {self.stack}")
        values: dict[str, Any] = json.loads(result.stdout or "{}")
        return values

    def project(self) -> str:
        for line in self.project_file.read_text(encoding="utf-8").splitlines():
            if line.startswith("name:"):
                return line.split(":", 1)[1].strip()
        raise RolloutError(f"{self.project_file} names no project")

    def output(self, name: str, value: str) -> None:
        """A step output for the workflow (and the record the tests read)."""
        self.outputs_written[name] = value
        path = os.environ.get("GITHUB_OUTPUT")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(f"{name}={value}\n")

    def deactivate(self, outputs: dict[str, Any], revision: str) -> bool:
        """`az containerapp revision deactivate`: what the provider cannot do."""
        result = self.az(
            "containerapp",
            "revision",
            "deactivate",
            "--name",
            str(outputs["app_name"]),
            "--resource-group",
            str(outputs["resource_group"]),
            "--revision",
            revision,
        )
        return result.returncode == 0

    # -- steps ---------------------------------------------------------------------------------
    def import_image(self, source: str, model_version: str) -> str:
        """Copy `source` (by digest) into the stack's registry; return the copy's reference."""
        if "@sha256:" not in source or "/" not in source:
            raise RolloutError(f"--source must be an image by digest, got {source!r}")
        repository, digest = source.split("/", 1)[1].split("@", 1)
        urn = f"urn:pulumi:{self.stack}::{self.project()}::{REGISTRY_COMPONENT}::"
        # With an image given the program declares no build (and exchanges no push token); the
        # app that would run it is not targeted, and the canary step sets the imported copy.
        self.set_config(image=source)
        self.up("--target", urn + REGISTRY_COMPONENT_NAME)
        exported = self.pulumi("stack", "export", "--stack", self.stack)
        if exported.returncode != 0:
            raise RolloutError(f"cannot export stack {self.stack}")
        resources = json.loads(exported.stdout or "{}").get("deployment", {}).get("resources", [])
        registries = [r.get("outputs", {}) for r in resources if r.get("type") == REGISTRY_TYPE]
        if len(registries) != 1:
            raise RolloutError(f"stack {self.stack} has {len(registries)} registries, not one")
        name, login_server = registries[0]["name"], registries[0]["loginServer"]
        result = self.az(
            "acr",
            "import",
            "--name",
            name,
            "--source",
            source,
            "--image",
            f"{repository}:{model_version}",
            "--force",
        )
        if result.returncode != 0:
            raise RolloutError(
                f"az acr import of {source} into {name} failed: does the identity have Reader on "
                "the source registry's group (the bootstrap's prod target)?"
            )
        image = f"{login_server}/{repository}@{digest}"
        self.output("image", image)
        return image

    def canary(self, image: str, weight: int, rollout_id: str) -> None:
        """Phase 1: the new revision next to the serving one, at `weight` percent."""
        before = self.outputs()
        stable = str(before.get("stable_revision") or "")
        self.set_config(
            image=image,
            stableRevision=stable,
            canaryWeight=str(weight),
            rollback="false",
            rolloutId=rollout_id,
        )
        self.up()
        after = self.outputs()
        new = str(after["latest_revision"])
        # No canary on the first deploy (nothing serves yet) or when nothing changed.
        is_canary = bool(stable) and new != stable
        target = str(after["canary_url"] if is_canary else after["url"])
        if not target:
            raise RolloutError(f"stack {self.stack} exported no canary_url")
        self.output("target-url", target)
        self.output("revision", new)
        self.output("stable-revision", stable)
        self.output("canary", "true" if is_canary else "false")
        self.output("model-version", str(after.get("model_version", "")))
        if is_canary:
            print(f"canary {new} at {weight} % next to {stable}: {target}")
        else:
            print(f"{new} takes all traffic (no earlier revision to compare with): {target}")

    def promote(self) -> None:
        """Phase 2: all traffic to the new revision; the previous one is deactivated."""
        before = self.outputs()
        new, old = str(before["latest_revision"]), str(before["stable_revision"])
        if new == old:
            print(f"{new} already takes all traffic: nothing to promote")
            self.output("url", str(before["url"]))
            return
        self.set_config(canaryWeight="100", rollback="false")
        self.up()
        after = self.outputs()
        if after["stable_revision"] != new:
            raise RolloutError(f"after the update {after['stable_revision']} serves, not {new}")
        self.output("url", str(after["url"]))
        if not self.deactivate(after, old):
            print(f"::warning::{new} serves, but deactivating {old} failed; it still costs")
        print(f"promoted {new} to 100 %; {old} deactivated")

    def rollback(self, reason: str) -> str:
        """Traffic back to the stable revision, the canary deactivated; the message to fail with."""
        stable = self.config("stableRevision")
        if not stable:
            return (
                f"the first deploy of {self.stack} failed ({reason}); there is no earlier revision "
                "to roll back to"
            )
        problems = []
        try:
            self.set_config(rollback="true", canaryWeight="0")
            self.up()
        except RolloutError as error:
            problems.append(str(error))
        outputs = self.outputs()
        canary = str(outputs.get("latest_revision") or "")
        if canary and canary != stable:
            if not self.deactivate(outputs, canary):
                problems.append(f"deactivating {canary} failed")
        else:
            canary = "the new revision"
        message = (
            f"canary {canary} of {self.stack} failed ({reason}); traffic stays on {stable}, "
            f"and {canary} has no traffic, no label and is deactivated"
        )
        if problems:
            message += "; but: " + "; ".join(problems)
        return message


def main(argv: Sequence[str] | None = None, runner: Runner = run_tool) -> int:
    """Command line entry point; errors become one line on stderr and exit status 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser("import-image", help="copy dev's image into the stack's registry")
    imp.add_argument("stack")
    imp.add_argument("--source", required=True, help="<registry>/<repository>@sha256:<digest>")
    imp.add_argument("--model-version", required=True)
    can = commands.add_parser("canary", help="phase 1: the new revision as a canary")
    can.add_argument("stack")
    can.add_argument("--image", required=True)
    can.add_argument("--weight", type=int, default=0, choices=range(101), metavar="0-100")
    can.add_argument("--rollout-id", default="")
    pro = commands.add_parser("promote", help="phase 2: all traffic to the new revision")
    pro.add_argument("stack")
    back = commands.add_parser("rollback", help="the canary failed: back to the stable revision")
    back.add_argument("stack")
    back.add_argument("--reason", required=True)
    args = parser.parse_args(argv)
    rollout = Rollout(args.stack, runner)
    try:
        if args.command == "import-image":
            rollout.import_image(args.source, args.model_version)
        elif args.command == "canary":
            rollout.canary(args.image, args.weight, args.rollout_id)
        elif args.command == "promote":
            rollout.promote()
        else:
            message = rollout.rollback(args.reason)
            print(f"::error::{message}")
            print(f"rollout: {message}", file=sys.stderr)
            return 1
    except RolloutError as error:
        print(f"rollout: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
