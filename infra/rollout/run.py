"""The phases of a prod rollout on Azure Container Apps, as `scripts/rollout.py` runs them.

    import-image STACK --source REF --model-version VERSION
    canary STACK --image REF [--rollout-id ID]
    promote STACK
    rollback STACK --reason TEXT
    status STACK

Run from the repository root after `scripts/pulumi_stack.py prepare STACK --create` and an Azure
login (deploy.yml's prod job; a person, docs/deploy/prod.md). Step outputs go to
$GITHUB_OUTPUT and the figures of every step to $GITHUB_STEP_SUMMARY when set; errors are one
line on stderr and exit status 1.

Where the state lives. What serves is Azure's traffic list, read with `az containerapp show`
whenever it matters, never a checkout's Pulumi.<stack>.yaml: config is set only for the run
that needs it (`image`, `rolloutId`). The stack's outputs give only the app's name and group,
which no update changes; after a failed update they may be stale (pulumi/pulumi#15754), so no
revision is ever taken from them.

How traffic moves. `pulumi up` only adds the new revision at 0 % (infra/revisions.py
`declare`), and every later weight change is one PATCH of the traffic list through the Azure
CLI (infra/rollout/azure.py). Steps are then seconds, not one `pulumi up` each; a rollback
needs neither the Pulumi program nor the state's lock, which a cancelled job's update may still
hold; and no stack config can carry a weight into another checkout. The `pulumi up` after the
promotion declares the list Azure has, which brings Pulumi's state in line.

import-image  The same image, not a rebuild: copies REF, the digest dev deployed and
              smoke-tested, into the stack's own registry with `az acr import`, which keeps the
              digest, tagged with the model version. On the stack's first rollout there is no
              registry yet: a `pulumi up` with config registryOnly=true creates it and its pull
              identity alone, then the key is removed. Output `image`.
canary        Step 0. First tidies up after any earlier run: an unfinished rollout's traffic
              goes back to the stable revision, and every active revision but the stable one
              is deactivated. Then `pulumi up` with `image` and a new `rolloutId`: the new
              revision joins at 0 % with the label canary. Outputs the URL to smoke-test (its
              label URL; on the first deploy, the app's URL).
promote       The later steps from stack config (default 10, 50, then 100 %). Each step below
              100 % holds, then the gate compares the canary's metrics with the stable
              revision's over the same window (infra/rollout/gate.py); too little traffic
              holds longer, up to a limit. A failed or unjudgeable step rolls back at once and
              exits 1 naming the step, the metric, both values and the threshold. 100 %: the
              canary becomes the stable revision, the old one is deactivated.
rollback      The stable revision gets 100 %, the canary loses its entry and its label, and
              every active revision but the stable one is deactivated; exits 1 saying why.
status        What serves: the traffic list and the active revisions with their images.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from infra import revisions
from infra.errors import ConfigError
from infra.revisions import CANARY_LABEL, STABLE_LABEL, Traffic
from infra.rollout import gate
from infra.rollout.azure import AppRef, AzureCliError, ContainerApps, Shown
from infra.rollout.policy import RolloutPolicy
from infra.rollout.prometheus import AZURE_MONITOR_AUDIENCE, Prometheus, PrometheusError
from infra.rollout.report import StepResult, failure, step_markdown
from infra.rollout.tools import RolloutError, Runner, Stack, run_tool

REGISTRY_TYPE: Final = "azure-native:containerregistry:Registry"
# What a registry-only update declares (infra/app.py with registryOnly): anything else in the
# state would be deleted by it, so the script refuses to run it then.
REGISTRY_ONLY_TYPES: Final = (
    "pulumi:pulumi:Stack",
    "banknote:app:PrivateRegistry",
    REGISTRY_TYPE,
    "azure-native:managedidentity:UserAssignedIdentity",
    "azure-native:authorization:RoleAssignment",
    "azure-native:resources:ResourceGroup",
)
# <login server>/<repository>@sha256:<64 hex>: the only form of image prod takes.
IMAGE_BY_DIGEST: Final = re.compile(
    r"^(?P<server>[a-z0-9][a-z0-9.-]*\.[a-z0-9.-]+)/(?P<repository>[a-z0-9][a-z0-9._/-]*)"
    r"@(?P<digest>sha256:[0-9a-f]{64})$"
)
# The monitoring stack output with the Azure Monitor workspace's PromQL endpoint.
QUERY_ENDPOINT_OUTPUT: Final = "prometheus_query_endpoint"
# How long a traffic PATCH may take to show in the app before the rollout gives up.
TRAFFIC_WAIT_SECONDS: Final = 120.0
TRAFFIC_POLL_SECONDS: Final = 5.0

MetricsSource = Callable[[Mapping[str, Any], ContainerApps], Prometheus]


def azure_monitor(outputs: Mapping[str, Any], apps: ContainerApps) -> Prometheus:
    """The stack's Azure Monitor workspace, queried with the deployer's Entra token."""
    endpoint = str(outputs.get(QUERY_ENDPOINT_OUTPUT) or "")
    if not endpoint:
        raise RolloutError(
            f"the stack exports no {QUERY_ENDPOINT_OUTPUT} (config monitoring off?): the gate has "
            "no metrics to judge a step by; set rolloutSteps to 0,100 to promote on the smoke "
            "test alone"
        )
    token = apps.token(AZURE_MONITOR_AUDIENCE)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::add-mask::{token}")  # docs.github.com "Workflow commands": masking a value
    return Prometheus(endpoint, token)


@dataclass
class Rollout(Stack):
    """The rollout of one stack: its phases, through the tools of `Stack` and the metrics."""

    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    metrics: MetricsSource = azure_monitor

    def app_ref(self, outputs: Mapping[str, Any]) -> AppRef | None:
        """The app, if an update of this stack has created it (its `app_id` output)."""
        if not outputs.get("app_id"):
            return None
        return AppRef(str(outputs["app_name"]), str(outputs["resource_group"]))

    def require_app(self) -> AppRef:
        found = self.app_ref(self.outputs())
        if found is None:
            raise RolloutError(f"stack {self.stack} has no container app yet: run the canary first")
        return found

    # -- traffic -------------------------------------------------------------------------------
    def move(self, app: AppRef, shown: Shown, entries: list[Traffic]) -> Shown:
        """Set the traffic list and wait until Azure shows it."""
        self.apps.set_traffic(shown.id, entries)
        deadline = self.clock() + TRAFFIC_WAIT_SECONDS
        while True:
            now = self.apps.show(app)
            if sorted(now.live.traffic, key=repr) == sorted(entries, key=repr):
                print(f"traffic: {revisions.describe(entries)}")
                return now
            if self.clock() >= deadline:
                raise RolloutError(
                    f"{app.name} still shows {revisions.describe(now.live.traffic)}, not "
                    f"{revisions.describe(entries)}, {TRAFFIC_WAIT_SECONDS:.0f} s after the change"
                )
            self.sleep(TRAFFIC_POLL_SECONDS)

    def deactivate_all_but(self, app: AppRef, keep: str) -> list[str]:
        """Deactivate every active revision except `keep`; the problems, if any."""
        problems = []
        for revision in self.apps.active_revisions(app):
            if revision.name == keep:
                continue
            if self.apps.deactivate(app, revision.name):
                print(f"deactivated {revision.name}")
            else:
                problems.append(f"deactivating {revision.name} failed")
        return problems

    def tidy(self, app: AppRef, shown: Shown) -> Shown:
        """Before a canary: traffic back to the stable revision, every other one deactivated.

        An earlier job that was killed (or whose rollback failed) can leave a canary with a
        share, or active revisions that cost money and confuse the next reading.
        """
        stable = revisions.stable_of(shown.live.traffic)
        wanted = [Traffic(stable, 100, STABLE_LABEL)]
        if list(shown.live.traffic) != wanted:
            print(
                f"::warning::{app.name} had {revisions.describe(shown.live.traffic)} "
                f"(an unfinished rollout); {stable} gets 100 % before the new canary"
            )
            shown = self.move(app, shown, wanted)
        for problem in self.deactivate_all_but(app, stable):
            print(f"::warning::{problem}")
        return shown

    # -- phases --------------------------------------------------------------------------------
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
        # target (infra/bootstrap/targets.py, the prod target).
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

    def canary(self, image: str, rollout_id: str = "") -> None:
        """Step 0: the new revision next to the serving one, at 0 % with the label canary."""
        app = self.app_ref(self.outputs())
        if app is not None:
            self.tidy(app, self.apps.show(app))
        rollout_id = rollout_id or revisions.fresh_rollout_id()
        self.set_config(image=image, rolloutId=rollout_id)
        self.up()
        after = self.outputs()
        app = self.app_ref(after)
        if app is None:
            raise RolloutError(f"the update of {self.stack} exported no app_id")
        shown = self.apps.show(app)
        traffic = shown.live.traffic
        new, stable = shown.live.latest_revision, revisions.stable_of(traffic)
        canary = revisions.canary_of(traffic)
        is_canary = canary is not None and canary.revision_name == new
        if not is_canary and new != stable:
            raise RolloutError(
                f"after the update {new} is the latest revision of {app.name} but not its "
                f"canary ({revisions.describe(traffic)}): did Azure ignore the template?"
            )
        domain = shown.fqdn.split(".", 1)[1]
        target = (
            revisions.label_url(app.name, CANARY_LABEL, domain)
            if is_canary
            else f"https://{shown.fqdn}/"
        )
        self.output("target-url", target)
        self.output("revision", new)
        self.output("stable-revision", stable if is_canary else "")
        self.output("canary", "true" if is_canary else "false")
        self.output("rollout-id", rollout_id)
        self.output("model-version", str(after.get("model_version", "")))
        if is_canary:
            print(f"canary {new} at 0 % next to {stable}: {target}")
        else:
            print(f"{new} takes all traffic (no earlier revision to compare with): {target}")

    def promote(self) -> None:
        """The steps after 0 %, each held and judged, then 100 %; a failed step rolls back."""
        policy = self.policy()
        outputs = self.outputs()
        app = self.app_ref(outputs)
        if app is None:
            raise RolloutError(f"stack {self.stack} has no container app yet: run the canary first")
        shown = self.apps.show(app)
        stable = revisions.stable_of(shown.live.traffic)
        canary = revisions.canary_of(shown.live.traffic)
        if canary is None:
            if shown.live.latest_revision != stable:
                raise RolloutError(
                    f"{app.name} has no canary ({revisions.describe(shown.live.traffic)}): "
                    "run the canary first"
                )
            print(f"{stable} already takes all traffic: nothing to promote")
            self.output("url", f"https://{shown.fqdn}/")
            return
        new = canary.revision_name
        judged = policy.judged_steps
        # Asked for before any traffic moves: with no metrics, nothing may be judged.
        source = self.metrics(outputs, self.apps) if judged else Prometheus("")
        for index, weight in enumerate(judged, 1):
            split = [
                Traffic(stable, 100 - weight, STABLE_LABEL),
                Traffic(new, weight, CANARY_LABEL),
            ]
            try:
                shown = self.move(app, shown, split)
                result = self.hold_and_judge(app, source, new, stable, split, policy, index, weight)
            except (RolloutError, AzureCliError) as error:
                # Whatever stops a step once traffic moved rolls it back, not only the gate.
                self.stop(f"step {index} of {len(judged)} ({weight} %) stopped: {error}")
            self.report(step_markdown(result, len(judged)))
            if result.verdict.outcome is not gate.Outcome.ACCEPT:
                self.stop(failure(result, len(judged)))
        shown = self.move(app, shown, [Traffic(new, 100, STABLE_LABEL)])
        problems = self.deactivate_all_but(app, new)
        self.sync(shown)
        self.output("url", f"https://{shown.fqdn}/")
        self.report(f"**Promoted** `{new}` to 100 %; `{stable}` deactivated.\n")
        for problem in problems:
            print(f"::warning::{new} serves, but {problem}; it still costs")
        print(f"promoted {new} to 100 %; {stable} deactivated")

    def stop(self, why: str) -> NoReturn:
        """Roll back now, say so to the workflow (output rolled-back), and fail with why."""
        message = self.rollback(why)
        self.output("rolled-back", "true")
        raise RolloutError(message)

    def sync(self, shown: Shown) -> None:
        """A `pulumi up` that declares what Azure runs, which brings Pulumi's state in line.

        Its image and rollout id are read from Azure, whatever this checkout's config holds, so
        the template is the latest revision's and no new revision is made.
        """
        self.set_config(image=shown.live.image, rolloutId=shown.live.rollout_id)
        self.up()

    def hold_and_judge(
        self,
        app: AppRef,
        source: Prometheus,
        canary: str,
        stable: str,
        split: list[Traffic],
        policy: RolloutPolicy,
        index: int,
        weight: int,
    ) -> StepResult:
        """Hold the step, then judge it; with too little traffic, judge again until the limit."""
        started = self.clock()
        deadline = started + policy.max_hold_seconds
        print(f"step {index}: {weight} % to {canary}; holding {policy.hold_seconds} s")
        self.sleep(policy.hold_seconds)
        while True:
            now = self.clock()
            seen = self.apps.show(app).live.traffic
            if sorted(seen, key=repr) != sorted(split, key=repr):
                raise RolloutError(
                    f"the traffic of {app.name} changed outside the rollout during step {index}: "
                    f"{revisions.describe(seen)}"
                )
            window = max(1, round(now - started))
            try:
                figures = gate.measure(source, canary, stable, window, now)
            except PrometheusError as error:
                raise RolloutError(f"step {index} ({weight} %) cannot be judged: {error}") from None
            verdict = gate.judge(*figures, policy.gate)
            if verdict.outcome is not gate.Outcome.NO_DATA or now >= deadline:
                return StepResult(
                    index, weight, policy.gate.min_requests, window, *figures, verdict
                )
            wait = min(policy.recheck_seconds, deadline - now)
            print(f"step {index}: {verdict.reason}; judged again in {wait:.0f} s")
            self.sleep(wait)

    def rollback(self, reason: str) -> str:
        """All traffic back to the stable revision, every other one deactivated; the message."""
        app = self.app_ref(self.outputs())  # the app's name and group only: they never change
        if app is None:
            return f"{reason}; stack {self.stack} has no container app, so nothing serves"
        shown = self.apps.show(app)  # what serves is read from Azure, never from outputs
        traffic = shown.live.traffic
        stable = revisions.stable_of(traffic)
        canary = revisions.canary_of(traffic)
        latest = shown.live.latest_revision
        failed = canary.revision_name if canary else (latest if latest != stable else "")
        wanted = [Traffic(stable, 100, STABLE_LABEL)]
        if not failed and list(traffic) == wanted:
            if self.apps.revision_count(app) == 1:
                # The first deploy: there is no earlier revision, and deactivating the only one
                # would leave the app with nothing to answer at all (docs/deploy/prod.md).
                return (
                    f"{reason}; {stable} is the first revision of {app.name} and keeps serving: "
                    "there is no earlier one to go back to. Fix it with the next rollout."
                )
            return f"{reason}; {stable} serves all traffic and there is no canary to roll back"
        problems = []
        try:
            if list(traffic) != wanted:
                self.move(app, shown, wanted)
        except (RolloutError, AzureCliError) as error:
            problems.append(str(error))
        problems += self.deactivate_all_but(app, stable)
        message = (
            f"{reason}; rolled back: {stable} has 100 % of the traffic, "
            f"{failed or 'the canary'} has no traffic, no label and is deactivated"
        )
        if problems:
            message += "; but: " + "; ".join(problems)
        self.report(f"**Rolled back**: {message}\n")
        return message

    def status(self) -> str:
        """What serves: the traffic list and the active revisions with their images."""
        app = self.require_app()
        shown = self.apps.show(app)
        lines = [f"{app.name}: {revisions.describe(shown.live.traffic)}"]
        for revision in self.apps.active_revisions(app):
            lines.append(f"  active {revision.name} ({revision.weight} %): {revision.image}")
        return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per phase."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    stack_help = "the Container Apps stack, e.g. prod"
    imp = commands.add_parser("import-image", help="copy dev's image into the stack's registry")
    imp.add_argument("stack", help=stack_help)
    imp.add_argument(
        "--source", required=True, help="dev's image, <registry>/<repository>@sha256:<digest>"
    )
    imp.add_argument(
        "--model-version", required=True, help="the model version to tag the copy with"
    )
    can = commands.add_parser("canary", help="step 0: the new revision at 0 %% with its label")
    can.add_argument("stack", help=stack_help)
    can.add_argument(
        "--image", required=True, help="the image in the stack's registry (import-image's output)"
    )
    can.add_argument(
        "--rollout-id",
        default="",
        help="names the new revision (default: the time and a random part)",
    )
    pro = commands.add_parser("promote", help="the later steps, each judged, then 100 %%")
    pro.add_argument("stack", help=stack_help)
    back = commands.add_parser("rollback", help="back to the stable revision")
    back.add_argument("stack", help=stack_help)
    back.add_argument(
        "--reason", required=True, help="why the rollout failed (reported in one line)"
    )
    stat = commands.add_parser("status", help="the traffic list and the active revisions")
    stat.add_argument("stack", help=stack_help)
    return parser


def main(argv: Sequence[str] | None = None, runner: Runner = run_tool) -> int:
    """Command line entry point; errors become one line on stderr and exit status 1."""
    args = build_parser().parse_args(argv)
    rollout = Rollout(args.stack, runner)
    try:
        if args.command == "import-image":
            rollout.import_image(args.source, args.model_version)
        elif args.command == "canary":
            rollout.canary(args.image, args.rollout_id)
        elif args.command == "promote":
            rollout.promote()
        elif args.command == "status":
            print(rollout.status())
        else:
            message = rollout.rollback(args.reason)
            print(f"::error::{message}")
            print(f"rollout: {message}", file=sys.stderr)
            return 1
    except (RolloutError, AzureCliError, ConfigError, revisions.TrafficError) as error:
        print(f"::error::{error}")
        print(f"rollout: {error}", file=sys.stderr)
        return 1
    return 0
