"""The app stack, composed: config, resource group, registry + pull identity, image (built, or a
known one by digest), logs, metrics (config `monitoring`), then the platform (a container
group, or a container app), outputs. Everything is read and validated before the first resource
is declared.

Only the last part forks on `platform`: registry, identity, image, logs, metrics and tags are the
same for Azure Container Instances and Azure Container Apps."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, resources

from infra import config, containerapp, image, live, naming
from infra.container import PORT, ApiContainerArgs, ApiContainerGroup
from infra.containerapp import ApiContainerApp, ApiContainerAppArgs, Draft
from infra.managed_prometheus import ManagedPrometheus, ManagedPrometheusArgs
from infra.monitoring import LogWorkspace, LogWorkspaceArgs
from infra.registry import PrivateRegistry, RegistryArgs
from infra.shipper import REPLICA_ENV, REVISION_ENV
from infra.sidecar import Sidecar
from infra.tags import standard_tags


def resource_group(cfg: config.AppConfig, tags: dict[str, str]) -> pulumi.Input[str]:
    """The group the stack deploys into.

    CI's stacks deploy into a group the bootstrap created (config `resourceGroup`: dev's own,
    one shared by every pr-<n>), because CI's roles are scoped to those groups and it may not
    create groups. A developer's stack without that key creates and owns `rg-<label>`.
    """
    if cfg.resource_group is not None:
        return cfg.resource_group
    return resources.ResourceGroup(
        "rg",
        resource_group_name=naming.resource_group_name(cfg.dns_label),
        location=cfg.location,
        tags=tags,
    ).name


def main() -> None:
    """Declare the app stack's resources and export its outputs."""
    cfg = config.load()
    if cfg.registry_auth == "identity" and cfg.registry_sku != "Premium" and cfg.apps is None:
        # Microsoft lists a Premium registry as the prerequisite of ACI's identity pulls
        # (learn.microsoft.com "Deploy to Azure Container Instances from Azure Container
        # Registry using a managed identity"); say so rather than fail later with
        # InaccessibleImage.
        pulumi.log.warn(
            f"registrySku={cfg.registry_sku} with registryAuth=identity is outside Microsoft's "
            "documented prerequisites for Azure Container Instances (a Premium registry); "
            "if pulls fail, use registrySku Premium or registryAuth admin"
        )
    client = authorization.get_client_config()
    registry_name = naming.registry_name(cfg.dns_label, client.subscription_id)
    # The version the stack will serve: the artifact's, or a known image's label read from the
    # stack's own registry. A registry-only run serves nothing and reads neither.
    model_version = (
        None if cfg.registry_only else image.model_version(cfg, registry_name, client.tenant_id)
    )
    tags = standard_tags(cfg.project, cfg.stack, cfg.git_commit)
    # Container Apps: what Azure runs now decides the traffic list and the revision (and may
    # refuse the update), so it is read before anything is declared.
    draft = (
        containerapp.plan_update(cfg, cfg.apps, model_version, group_of(cfg))
        if cfg.apps is not None and model_version is not None
        else None
    )

    group_name = resource_group(cfg, tags)
    registry = PrivateRegistry(
        "registry",
        RegistryArgs(
            resource_group_name=group_name,
            location=cfg.location,
            registry_name=registry_name,
            identity_name=f"id-{cfg.dns_label}",
            sku=cfg.registry_sku,
            admin_user_enabled=cfg.registry_auth == "admin",
            subscription_id=client.subscription_id,
            tags=tags,
        ),
    )
    pulumi.export("registry", registry.login_server)
    pulumi.export("resource_group", group_name)
    if model_version is None:
        # registryOnly: prod's first rollout creates its registry this way, before the image
        # dev smoke-tested can be imported into it and named by config `image` (whose label the
        # next run reads from there). scripts/rollout.py runs it only on a stack that has no
        # registry yet, so there is no service whose resources or outputs it would drop.
        pulumi.log.warn(
            "registryOnly=true: only the registry and its pull identity are declared; "
            "remove the key before a normal update"
        )
        return
    serve(cfg, group_name, registry, model_version, client, tags, draft)


def group_of(cfg: config.AppConfig) -> str:
    """The name of the stack's group, known before it is declared (`resource_group`)."""
    return cfg.resource_group or naming.resource_group_name(cfg.dns_label)


def metrics(
    cfg: config.AppConfig,
    group_name: pulumi.Input[str],
    registry: PrivateRegistry,
    model_version: str,
    subscription_id: str,
    tags: dict[str, str],
) -> Sidecar | None:
    """The Azure Monitor workspace and its parts, and the shipper that feeds it (monitoring on).

    Container Apps sets the revision and replica variables in every container; a container group
    has neither revisions nor replicas, so its one instance is named after the group for both.
    """
    if cfg.monitoring is None:
        return None
    managed = ManagedPrometheus(
        "metrics",
        ManagedPrometheusArgs(
            monitoring=cfg.monitoring,
            label=cfg.dns_label,
            resource_group_name=group_name,
            location=cfg.location,
            registry=registry,
            subscription_id=subscription_id,
            tags=tags,
        ),
    )
    pulumi.export("monitor_workspace_id", managed.workspace.id)
    pulumi.export("prometheus_query_endpoint", managed.query_endpoint)
    pulumi.export("dashboard_id", managed.dashboard.id)
    group_instance = {REVISION_ENV: cfg.dns_label, REPLICA_ENV: cfg.dns_label}
    return managed.sidecar(model_version, None if cfg.apps is not None else group_instance)


def serve(
    cfg: config.AppConfig,
    group_name: pulumi.Input[str],
    registry: PrivateRegistry,
    model_version: str,
    client: authorization.GetClientConfigResult,
    tags: dict[str, str],
    draft: Draft | None,
) -> None:
    """The image, the logs, the metrics and the platform that runs it, and their outputs."""
    tenant_id = client.tenant_id
    deployed = image.service_image(cfg, model_version, registry.login_server, tenant_id)
    logs = LogWorkspace(
        "logs",
        LogWorkspaceArgs(
            resource_group_name=group_name,
            location=cfg.location,
            workspace_name=f"log-{cfg.dns_label}",
            tags=tags,
        ),
    )
    shipper = metrics(cfg, group_name, registry, model_version, client.subscription_id, tags)

    if cfg.apps is not None and draft is not None:
        service = ApiContainerApp(
            "api",
            ApiContainerAppArgs(
                cfg=cfg,
                apps=cfg.apps,
                resource_group_name=group_name,
                login_server=registry.login_server,
                identity_id=registry.identity.id,
                pull_grant=registry.acr_pull,
                draft=draft,
                logs=logs,
                tags=tags,
                sidecar=shipper,
            ),
        )
        url, fqdn = service.url, service.fqdn
        # Resolved only once the app exists: the next update reads it to know it does
        # (infra/live.py).
        pulumi.export(live.APP_ID_OUTPUT, service.container_app.id)
        pulumi.export("app_name", service.app_name)
        pulumi.export("latest_revision", service.latest_revision)
        pulumi.export("stable_revision", service.stable_revision)
        pulumi.export("canary_url", service.canary_url)
        pulumi.export("rollout_id", draft.rollout_id)
    else:
        group = ApiContainerGroup(
            "api",
            ApiContainerArgs(
                cfg=cfg,
                resource_group_name=group_name,
                registry=registry.registry,
                login_server=registry.login_server,
                identity_id=registry.identity.id,
                pull_grant=registry.acr_pull,
                image=deployed,
                tags=tags,
                logs=logs,
                sidecar=shipper,
            ),
        )
        fqdn = group.fqdn
        url = pulumi.Output.concat("http://", fqdn, f":{PORT}/")

    pulumi.export("url", url)
    pulumi.export("docs_url", pulumi.Output.concat(url, "docs"))
    pulumi.export("fqdn", fqdn)
    pulumi.export("image", deployed)
    pulumi.export("model_version", model_version)
