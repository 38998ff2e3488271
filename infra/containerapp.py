"""The service on Azure Container Apps: HTTPS ingress, replicas that scale on HTTP load, and
revisions with traffic splitting for a canary (platform: containerapps).

One component: a managed environment whose logs go to the stack's Log Analytics workspace, and
the container app. Facts from the pulumi-azure-native 3.x SDK (pulumi_azure_native/app) and
Microsoft's documentation, next to where each is used:

- `environment_id`, not `managed_environment_id`, which the SDK documents as deprecated.
- The registry is pulled with the user-assigned identity (`registries[].identity` = its resource
  id, the identity also listed in `identity`): no password or secret exists (learn.microsoft.com
  "Azure Container Apps image pull with managed identity"). The identity needs AcrPull before
  the first revision pulls, so the app depends on the grant and retries a failed pull while the
  grant propagates, as the container group does.
- Multiple revisions mode and named revisions, so the rollout can split traffic; the provider
  has no revision resource and cannot deactivate one (scripts/rollout.py does that with the
  Azure CLI), and `max_inactive_revisions` bounds how many deactivated ones Azure keeps.
- The image is always config `image` (infra/config.py refuses to run without it): prod runs
  what dev built and smoke-tested, never a build of the checkout that runs `pulumi up`.
- The traffic list is declared as Azure has it (infra/live.py reads it), plus the new revision
  at 0 % when the template changed (infra/revisions.py `declare`): an update never moves a
  weight, so `pulumi up` from any checkout changes nothing that serves. Only the rollout moves
  traffic (infra/rollout/run.py), and the next update brings Pulumi's state in line with it.
- The template is built once as the plain value that is sent, and the revision suffix hashes
  all of it (infra/revisions.py `suffix`), so no setting can change without a new revision.
  The metrics shipper's container (infra/shipper.py) is part of it; its settings name the data
  collection endpoint and rule, which exist only once those resources do, so the suffix and the
  traffic list are settled in an `apply` once they are known (`Draft` -> `Plan`). What can be
  refused is refused before anything is declared (`plan_update`).
- The HTTP scale rule's metadata key is `concurrentRequests` (learn.microsoft.com "Set scaling
  rules in Azure Container Apps", HTTP).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

import pulumi
from pulumi_azure_native import app

from infra import live, revisions
from infra.config import AppConfig, ContainerAppsConfig
from infra.container import CONTAINER_NAME, PORT, environment, retry_image_pull
from infra.errors import ConfigError
from infra.monitoring import LogWorkspace
from infra.revisions import LiveApp, Traffic
from infra.sidecar import Sidecar

# Deactivated revisions Azure keeps (it purges the oldest beyond this): enough to reactivate the
# last few releases by hand, few enough to list at a glance.
MAX_INACTIVE_REVISIONS: Final = 10
SCALE_RULE: Final = "http-concurrency"
READINESS_PERIOD_SECONDS: Final = 5
PROBE_FAILURE_THRESHOLD: Final = 3
PROBES: Final = {
    "Liveness": {"path": "/health", "initial_delay": 10, "period": 10},
    "Readiness": {"path": "/ready", "initial_delay": 5, "period": READINESS_PERIOD_SECONDS},
}
# Scale-in and deactivation send each replica SIGTERM, then SIGKILL once the revision's
# `terminationGracePeriodSeconds` has passed (learn.microsoft.com "Application lifecycle
# management in Azure Container Apps", Shutdown: 30 s unless the template says otherwise;
# the Microsoft.App REST API's Template.terminationGracePeriodSeconds). The service spends it so:
# - the drain (api/shutdown.py): /ready answers 503 and every other request is still served,
#   for as long as the readiness probe takes to fail enough times to stop routing here;
# - then uvicorn closes the listener, and requests in flight get up to 10 s (a 10,000-row batch
#   takes well under 1 s on one core);
# - 5 s to spare: the supervisor forwards SIGTERM to the workers (it looks every 0.5 s), the
#   lifespan closes, the processes exit.
# That sums to Azure's own default, set explicitly so the parts stay tied together.
SHUTDOWN_DRAIN_SECONDS: Final = READINESS_PERIOD_SECONDS * PROBE_FAILURE_THRESHOLD
GRACEFUL_SHUTDOWN_SECONDS: Final = 10
SHUTDOWN_SPARE_SECONDS: Final = 5
TERMINATION_GRACE_SECONDS: Final = (
    SHUTDOWN_DRAIN_SECONDS + GRACEFUL_SHUTDOWN_SECONDS + SHUTDOWN_SPARE_SECONDS
)


@dataclass(frozen=True)
class ApiContainerAppArgs:
    """Inputs of `ApiContainerApp`."""

    cfg: AppConfig
    apps: ContainerAppsConfig
    resource_group_name: pulumi.Input[str]
    login_server: pulumi.Input[str]
    identity_id: pulumi.Input[str]
    pull_grant: pulumi.Resource  # the identity's AcrPull assignment
    draft: Draft  # made by `plan_update` before anything is declared
    logs: LogWorkspace
    tags: dict[str, str]
    sidecar: Sidecar | None = None  # runs next to the service in every replica (the shipper)


@dataclass(frozen=True)
class Draft:
    """What an update knows before it declares anything: the app, the image, the template
    without the sidecar (whose settings exist only once its resources do), the rollout id and
    what Azure runs."""

    app_name: str
    model_version: str
    image: str
    template: app.TemplateArgsDict  # as sent, without the sidecar and the suffix
    rollout_id: str
    state: LiveApp | None


@dataclass(frozen=True)
class Plan:
    """The revision this update declares and the traffic list it sends."""

    app_name: str
    template: app.TemplateArgsDict  # as sent, without the suffix
    rollout_id: str
    suffix: str
    revision: str
    traffic: list[Traffic]


def memory(gb: float) -> str:
    """Container Apps spells memory as a Kubernetes quantity, e.g. 1.0Gi."""
    return f"{gb:.1f}Gi"


def probes() -> list[app.ContainerAppProbeArgsDict]:
    """Liveness on /health and readiness on /ready, on the service's port."""
    return [
        {
            "type": kind,
            "http_get": {"path": str(spec["path"]), "port": PORT, "scheme": "HTTP"},
            "initial_delay_seconds": int(str(spec["initial_delay"])),
            "period_seconds": int(str(spec["period"])),
            "failure_threshold": PROBE_FAILURE_THRESHOLD,
            "timeout_seconds": 5,
        }
        for kind, spec in PROBES.items()
    ]


def service_environment(cfg: AppConfig) -> dict[str, str]:
    """The service's environment here: the common one, with shutdown timed to the grace period
    (ACI and `docker stop` keep the service's defaults, made for their 10 s)."""
    return {
        **environment(cfg),
        "SHUTDOWN_DRAIN_SECONDS": str(SHUTDOWN_DRAIN_SECONDS),
        "GRACEFUL_SHUTDOWN_SECONDS": str(GRACEFUL_SHUTDOWN_SECONDS),
    }


def template(cfg: AppConfig, apps: ContainerAppsConfig, image: str) -> app.TemplateArgsDict:
    """The revision template as it is sent, without its suffix: what the suffix hashes."""
    return {
        "containers": [
            {
                "name": CONTAINER_NAME,
                "image": image,
                "env": [
                    {"name": key, "value": value} for key, value in service_environment(cfg).items()
                ],
                "resources": {"cpu": cfg.cpu, "memory": memory(cfg.memory_gb)},
                "probes": probes(),
            }
        ],
        "termination_grace_period_seconds": TERMINATION_GRACE_SECONDS,
        "scale": {
            "min_replicas": apps.min_replicas,
            "max_replicas": apps.max_replicas,
            "rules": [
                {
                    "name": SCALE_RULE,
                    # learn.microsoft.com "Set scaling rules in Azure Container Apps", HTTP.
                    "http": {"metadata": {"concurrentRequests": str(apps.concurrent_requests)}},
                }
            ],
        },
    }


def sidecar_container(sidecar: Sidecar) -> pulumi.Output[dict[str, Any]]:
    """A second container of every replica, as sent; it shares the replica's localhost."""

    def container(settings: Mapping[str, Any]) -> dict[str, Any]:
        env: Mapping[str, str] = settings["env"]
        return {
            "name": settings["name"],
            "image": settings["image"],
            "command": settings["command"],
            "env": [{"name": key, "value": value} for key, value in env.items()],
            "resources": {"cpu": settings["cpu"], "memory": memory(settings["memory_gb"])},
        }

    return sidecar.settings().apply(container)


def with_sidecar(
    template: app.TemplateArgsDict, sidecar: Mapping[str, Any] | None
) -> app.TemplateArgsDict:
    """`template` with the sidecar's container after the service's (unchanged without one)."""
    if sidecar is None:
        return template
    # `template` is this module's plain value (`template()`), never an Output.
    service = cast(list[Any], template.get("containers", []))
    containers: list[Any] = [*service, dict(sidecar)]
    return {**template, "containers": containers}


def plan(draft: Draft, sidecar: Mapping[str, Any] | None = None) -> Plan:
    """The revision for the whole template and the traffic list, from what Azure runs now."""
    sent = with_sidecar(draft.template, sidecar)
    suffix = revisions.suffix(draft.app_name, draft.model_version, dict(sent), draft.rollout_id)
    revision = revisions.revision_name(draft.app_name, suffix)
    try:
        traffic = revisions.declare(revision, draft.state)
    except revisions.TrafficError as error:
        raise ConfigError(f"{draft.app_name}: {error}") from None
    return Plan(draft.app_name, sent, draft.rollout_id, suffix, revision, traffic)


def plan_update(
    cfg: AppConfig, apps: ContainerAppsConfig, model_version: str, resource_group: str
) -> Draft:
    """What this update will declare, from config and from what Azure runs (infra/live.py).

    Called before any resource is declared, so a refusal changes nothing. A rollout under way
    is refused here unless this update carries the rollout id of the revision Azure made last:
    the suffix hashes the rollout id, so only then can this update's revision be one that is
    already in the traffic list (a re-run), which `plan` settles once the whole template is
    known.
    """
    if cfg.image is None:
        raise ConfigError("config image is required with platform containerapps")
    name = revisions.app_name(cfg.dns_label)
    image = str(cfg.image)
    state = live.read(name, resource_group)
    rollout_id = revisions.rollout_id_for(apps.rollout_id, image, state)
    draft = Draft(name, model_version, image, template(cfg, apps, image), rollout_id, state)
    if state is not None and state.rollout_id != rollout_id:
        try:
            revisions.refuse_while_under_way(state.traffic)
        except revisions.TrafficError as error:
            raise ConfigError(f"{name}: {error}") from None
    return draft


class ApiContainerApp(pulumi.ComponentResource):
    """A managed environment and the container app, in multiple revisions mode."""

    environment: app.ManagedEnvironment
    container_app: app.ContainerApp
    app_name: str
    plan: pulumi.Output[Plan]
    url: pulumi.Output[str]
    fqdn: pulumi.Output[str]
    latest_revision: pulumi.Output[str]
    stable_revision: pulumi.Output[str]
    canary_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: ApiContainerAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("banknote:app:ApiContainerApp", name, None, opts)
        cfg = args.cfg
        child = pulumi.ResourceOptions(parent=self)
        draft = args.draft
        self.app_name = draft.app_name
        sidecar = (
            sidecar_container(args.sidecar)
            if args.sidecar is not None
            else pulumi.Output.from_input(None)
        )
        self.plan = sidecar.apply(lambda container: plan(draft, container))

        self.environment = app.ManagedEnvironment(
            "environment",
            environment_name=f"cae-{cfg.dns_label}"[:60].rstrip("-"),
            resource_group_name=args.resource_group_name,
            location=cfg.location,
            # Azure Monitor routes the logs; the diagnostic setting below says where. The other
            # destination, log-analytics, would put the workspace's shared key in this resource.
            app_logs_configuration=app.AppLogsConfigurationArgs(destination="azure-monitor"),
            tags=args.tags,
            opts=child,
        )
        diagnostics = args.logs.diagnostics_for("environment-logs", self.environment.id, self)

        self.container_app = app.ContainerApp(
            "app",
            container_app_name=self.app_name,
            resource_group_name=args.resource_group_name,
            location=cfg.location,
            environment_id=self.environment.id,
            identity=app.ManagedServiceIdentityArgs(
                type=app.ManagedServiceIdentityType.USER_ASSIGNED,
                user_assigned_identities=[args.identity_id],
            ),
            configuration=app.ConfigurationArgs(
                active_revisions_mode=app.ActiveRevisionsMode.MULTIPLE,
                max_inactive_revisions=MAX_INACTIVE_REVISIONS,
                ingress=app.IngressArgs(
                    external=True,
                    target_port=PORT,
                    # HTTP requests are redirected to HTTPS; the platform terminates TLS.
                    allow_insecure=False,
                    traffic=self.plan.apply(
                        lambda p: [
                            app.TrafficWeightArgs(
                                revision_name=t.revision_name,
                                weight=t.weight,
                                label=t.label or None,
                            )
                            for t in p.traffic
                        ]
                    ),
                ),
                registries=[
                    app.RegistryCredentialsArgs(server=args.login_server, identity=args.identity_id)
                ],
            ),
            template=self.plan.apply(lambda p: {**p.template, "revision_suffix": p.suffix}),
            # The rollout id is read back from here by the next update (infra/live.py).
            tags={**args.tags, revisions.ROLLOUT_TAG: draft.rollout_id},
            opts=pulumi.ResourceOptions(
                parent=self,
                # The first revision pulls with the identity: its grant must exist first, and
                # the sidecar's needs (its image's cache rule, its publisher role) too.
                depends_on=[
                    args.pull_grant,
                    diagnostics,
                    *(args.sidecar.depends_on if args.sidecar is not None else ()),
                ],
                hooks=pulumi.ResourceHookBinding(
                    on_error=[pulumi.ErrorHook("retry-revision-pull", retry_image_pull)]
                ),
            ),
        )

        domain = self.environment.default_domain
        self.fqdn = pulumi.Output.concat(self.app_name, ".", domain)
        self.url = pulumi.Output.concat("https://", self.fqdn, "/")
        self.latest_revision = self.container_app.latest_revision_name
        self.stable_revision = self.plan.apply(lambda p: revisions.serving(p.traffic))
        self.canary_url = pulumi.Output.all(self.plan, domain).apply(
            lambda pair: (
                revisions.label_url(self.app_name, revisions.CANARY_LABEL, pair[1])
                if revisions.canary_of(pair[0].traffic) is not None
                else ""
            )
        )
        self.register_outputs(
            {
                "url": self.url,
                "latest_revision": self.latest_revision,
                "stable_revision": self.stable_revision,
                "canary_url": self.canary_url,
            }
        )
