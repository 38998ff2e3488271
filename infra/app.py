"""The app stack, composed: config, resource group, registry + pull identity, image (built, or a
known one by digest), container group, outputs. Everything is read and validated before the first
resource is declared."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, resources

from infra import config, image, naming
from infra.container import PORT, ApiContainerArgs, ApiContainerGroup
from infra.registry import PrivateRegistry, RegistryArgs
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
    if cfg.registry_auth == "identity" and cfg.registry_sku != "Premium":
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
    model_version = image.model_version(cfg, registry_name, client.tenant_id)
    tags = standard_tags(cfg.project, cfg.stack, cfg.git_commit)

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
    image_ref = image.service_image(cfg, model_version, registry.login_server, client.tenant_id)
    app = ApiContainerGroup(
        "api",
        ApiContainerArgs(
            cfg=cfg,
            resource_group_name=group_name,
            registry=registry.registry,
            login_server=registry.login_server,
            identity_id=registry.identity.id,
            pull_grant=registry.acr_pull,
            image=image_ref,
            tags=tags,
        ),
    )

    url = pulumi.Output.concat("http://", app.fqdn, f":{PORT}/")
    pulumi.export("url", url)
    pulumi.export("docs_url", pulumi.Output.concat(url, "docs"))
    pulumi.export("fqdn", app.fqdn)
    pulumi.export("image", image_ref)
    pulumi.export("registry", registry.login_server)
    pulumi.export("resource_group", group_name)
    pulumi.export("model_version", model_version)
