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
- The HTTP scale rule's metadata key is `concurrentRequests` (learn.microsoft.com "Set scaling
  rules in Azure Container Apps", HTTP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
from pulumi_azure_native import app

from infra import revisions
from infra.config import AppConfig, ContainerAppsConfig
from infra.container import CONTAINER_NAME, PORT, environment, retry_image_pull
from infra.monitoring import LogWorkspace

# Deactivated revisions Azure keeps (it purges the oldest beyond this): enough to reactivate the
# last few releases by hand, few enough to list at a glance.
MAX_INACTIVE_REVISIONS: Final = 10
SCALE_RULE: Final = "http-concurrency"
# Probe settings are part of the revision template, so they enter the suffix's hash.
PROBES: Final = {
    "Liveness": {"path": "/health", "initial_delay": 10, "period": 10},
    "Readiness": {"path": "/ready", "initial_delay": 5, "period": 5},
}


@dataclass(frozen=True)
class ApiContainerAppArgs:
    """Inputs of `ApiContainerApp`."""

    cfg: AppConfig
    apps: ContainerAppsConfig
    resource_group_name: pulumi.Input[str]
    login_server: pulumi.Input[str]
    identity_id: pulumi.Input[str]
    pull_grant: pulumi.Resource  # the identity's AcrPull assignment
    image: pulumi.Input[str]  # <registry>/<repository>@sha256:<digest>
    model_version: str
    logs: LogWorkspace
    tags: dict[str, str]


def memory(gb: float) -> str:
    """Container Apps spells memory as a Kubernetes quantity, e.g. 1.0Gi."""
    return f"{gb:.1f}Gi"


def template_settings(cfg: AppConfig, apps: ContainerAppsConfig) -> dict[str, object]:
    """Everything revision-scope apart from the image: what the revision suffix hashes."""
    return {
        "cpu": cfg.cpu,
        "memory": memory(cfg.memory_gb),
        "env": environment(cfg),
        "probes": PROBES,
        "scale": [apps.min_replicas, apps.max_replicas, apps.concurrent_requests],
        "rollout": apps.rollout_id,
    }


def revision_suffix(args: ApiContainerAppArgs, app_name: str, image: str) -> str:
    """The suffix of the revision this update declares (model version + hash incl. digest)."""
    digest = image.rsplit("@", 1)[-1]
    settings = template_settings(args.cfg, args.apps)
    return revisions.suffix(app_name, args.model_version, digest, settings)


def probes() -> list[app.ContainerAppProbeArgs]:
    """Liveness on /health and readiness on /ready, on the service's port."""
    return [
        app.ContainerAppProbeArgs(
            type=kind,
            http_get=app.ContainerAppProbeHttpGetArgs(
                path=str(spec["path"]), port=PORT, scheme=app.Scheme.HTTP
            ),
            initial_delay_seconds=int(str(spec["initial_delay"])),
            period_seconds=int(str(spec["period"])),
            failure_threshold=3,
            timeout_seconds=5,
        )
        for kind, spec in PROBES.items()
    ]


class ApiContainerApp(pulumi.ComponentResource):
    """A managed environment and the container app, in multiple revisions mode."""

    environment: app.ManagedEnvironment
    container_app: app.ContainerApp
    app_name: str
    url: pulumi.Output[str]
    fqdn: pulumi.Output[str]
    latest_revision: pulumi.Output[str]
    stable_revision: pulumi.Output[str]
    canary_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: ApiContainerAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("banknote:app:ApiContainerApp", name, None, opts)
        cfg, apps = args.cfg, args.apps
        child = pulumi.ResourceOptions(parent=self)
        self.app_name = revisions.app_name(cfg.dns_label)

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

        suffix = pulumi.Output.from_input(args.image).apply(
            lambda image: revision_suffix(args, self.app_name, image)
        )
        latest = suffix.apply(lambda s: revisions.revision_name(self.app_name, s))
        split = latest.apply(
            lambda new: revisions.traffic(
                new, apps.stable_revision, apps.canary_weight, rollback=apps.rollback
            )
        )

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
                    traffic=split.apply(
                        lambda entries: [
                            app.TrafficWeightArgs(
                                revision_name=t.revision_name, weight=t.weight, label=t.label
                            )
                            for t in entries
                        ]
                    ),
                ),
                registries=[
                    app.RegistryCredentialsArgs(server=args.login_server, identity=args.identity_id)
                ],
            ),
            template=app.TemplateArgs(
                revision_suffix=suffix,
                containers=[
                    app.ContainerArgs(
                        name=CONTAINER_NAME,
                        image=args.image,
                        env=[
                            app.EnvironmentVarArgs(name=key, value=value)
                            for key, value in environment(cfg).items()
                        ],
                        resources=app.ContainerResourcesArgs(
                            cpu=cfg.cpu, memory=memory(cfg.memory_gb)
                        ),
                        probes=probes(),
                    )
                ],
                scale=app.ScaleArgs(
                    min_replicas=apps.min_replicas,
                    max_replicas=apps.max_replicas,
                    rules=[
                        app.ScaleRuleArgs(
                            name=SCALE_RULE,
                            http=app.HttpScaleRuleArgs(
                                metadata={"concurrentRequests": str(apps.concurrent_requests)}
                            ),
                        )
                    ],
                ),
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The first revision pulls with the identity: its grant must exist first.
                depends_on=[args.pull_grant, diagnostics],
                hooks=pulumi.ResourceHookBinding(
                    on_error=[pulumi.ErrorHook("retry-revision-pull", retry_image_pull)]
                ),
            ),
        )

        domain = self.environment.default_domain
        self.fqdn = pulumi.Output.concat(self.app_name, ".", domain)
        self.url = pulumi.Output.concat("https://", self.fqdn, "/")
        self.latest_revision = latest
        self.stable_revision = split.apply(revisions.serving)
        self.canary_url = pulumi.Output.all(split, domain).apply(
            lambda pair: (
                revisions.label_url(self.app_name, revisions.CANARY_LABEL, pair[1])
                if any(t.label == revisions.CANARY_LABEL for t in pair[0])
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
