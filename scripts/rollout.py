"""The prod rollout on Azure Container Apps: promote dev's image, canary, then promote or roll back.

    python scripts/rollout.py import-image STACK --source REF --model-version VERSION
    python scripts/rollout.py canary STACK --image REF [--weight N] [--rollout-id ID]
    python scripts/rollout.py promote STACK
    python scripts/rollout.py rollback STACK --reason TEXT

Run by the prod job of deploy.yml (and by a person, README "Scale out: Azure Container Apps")
from the repository root, after `scripts/pulumi_stack.py prepare STACK --create` and `az login`.
Every step writes its results to $GITHUB_OUTPUT when set; errors are one line on stderr.

import-image  The same image, not a rebuild: copies REF, the digest dev deployed and
              smoke-tested, into the stack's own registry with `az acr import`, which keeps the
              digest, tagged with the model version. Output `image`: the copy's reference, which
              the canary step sets as config `image`. On the stack's first rollout there is no
              registry yet, and the program cannot run with an `image` that is not in it (it
              reads the image's label from there): a `pulumi up` with config registryOnly=true
              creates the registry and its pull identity alone, then the key is removed.
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
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

REGISTRY_TYPE = "azure-native:containerregistry:Registry"
# What a registry-only update declares (infra/app.py with registryOnly): anything else in the
# state would be deleted by it, so the script refuses to run it then.
REGISTRY_ONLY_TYPES = (
    "pulumi:pulumi:Stack",
    "banknote:app:PrivateRegistry",
    REGISTRY_TYPE,
    "azure-native:managedidentity:UserAssignedIdentity",
    "azure-native:authorization:RoleAssignment",
    "azure-native:resources:ResourceGroup",
)
UP = ("up", "--yes", "--skip-preview")
# <login server>/<repository>@sha256:<64 hex>: the only form of image prod takes.
IMAGE_BY_DIGEST = re.compile(
    r"^(?P<server>[a-z0-9][a-z0-9.-]*\.[a-z0-9.-]+)/(?P<repository>[a-z0-9][a-z0-9._/-]*)"
    r"@(?P<digest>sha256:[0-9a-f]{64})$"
)

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
    def state(self) -> list[dict[str, Any]]:
        """The resources in the stack's state (`pulumi stack export`)."""
        exported = self.pulumi("stack", "export", "--stack", self.stack)
        if exported.returncode != 0:
            raise RolloutError(f"cannot export stack {self.stack}")
        deployment = json.loads(exported.stdout or "{}").get("deployment", {})
        resources: list[dict[str, Any]] = deployment.get("resources") or []
        return resources

    def registry(self, resources: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The outputs of the registry among the stack's resources, None before it exists."""
        found = [r.get("outputs", {}) for r in resources if r.get("type") == REGISTRY_TYPE]
        if len(found) > 1:
            raise RolloutError(f"stack {self.stack} has {len(found)} registries, not one")
        return found[0] if found else None

    def create_registry(self, resources: list[dict[str, Any]]) -> dict[str, Any]:
        """The first rollout: a `pulumi up` of the registry and its pull identity alone.

        Not a `pulumi up --target`: the engine targets a component's children only with
        --target-dependents (pkg/resource/deploy/step_generator.go `isTargetedForUpdate`;
        pulumi/pulumi#7605 includes children for deletes only), and it always updates the root
        stack's outputs, where an untargeted resource's outputs are unknown (its skipped create,
        `NewSkippedCreateStep`, resolves them as unknown in the SDK). A program that declares
        only the registry does what is meant, on a stack where nothing else exists.
        """
        others = sorted(
            {
                str(r.get("type"))
                for r in resources
                if r.get("type") not in REGISTRY_ONLY_TYPES
                and not str(r.get("type", "")).startswith("pulumi:providers:")
            }
        )
        if others:
            raise RolloutError(
                f"stack {self.stack} has no registry but holds {', '.join(others)}: a "
                "registry-only update would delete them; repair the stack first (pulumi refresh)"
            )
        self.set_config(registryOnly="true")
        try:
            self.up()
        finally:
            # Never left on: a normal update with it would declare the registry alone.
            self.pulumi("config", "rm", "--stack", self.stack, "registryOnly")
        registry = self.registry(self.state())
        if registry is None:
            raise RolloutError(f"the update of {self.stack} created no registry")
        return registry

    def import_image(self, source: str, model_version: str) -> str:
        """Copy `source` (by digest) into the stack's registry; return the copy's reference."""
        match = IMAGE_BY_DIGEST.match(source)
        if match is None:
            raise RolloutError(
                f"--source must be an image by digest, <registry>/<repository>@sha256:<digest>, "
                f"got {source!r}"
            )
        resources = self.state()
        registry = self.registry(resources) or self.create_registry(resources)
        name, login_server = str(registry["name"]), str(registry["loginServer"])
        repository, digest = match["repository"], match["digest"]
        # learn.microsoft.com "Import container images to a container registry", same tenant:
        # --registry names the source registry so that the import authenticates to it with the
        # caller's Entra ID identity (the CLI resolves the name among the registries it can
        # read, azure-cli acr/import.py), and --source is then the image without the login
        # server. The caller needs read and pull on the source and the import action on the
        # target (README, "Scale out: Azure Container Apps").
        result = self.az(
            "acr", "import",
            "--name", name,
            "--registry", match["server"].split(".", 1)[0],
            "--source", f"{repository}@{digest}",
            "--image", f"{repository}:{model_version}",
            "--force",
        )  # fmt: skip
        if result.returncode != 0:
            raise RolloutError(
                f"az acr import of {source} into {name} failed: may the identity read and pull "
                "from the source registry (Reader on its group, the bootstrap's prod target)?"
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
