"""The bootstrap stack, composed: config, state backend, GitHub identity, its roles, and the
GitHub repository variables as outputs (no secrets among them)."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization

from infra import naming
from infra.bootstrap import config
from infra.bootstrap.access import AccessArgs, DeployerAccess
from infra.bootstrap.github import GitHubIdentity, GitHubIdentityArgs
from infra.bootstrap.state import StateArgs, StateBackend
from infra.tags import standard_tags


def main() -> None:
    """Declare the bootstrap resources and export the GitHub repository variables."""
    cfg = config.load()
    client = authorization.get_client_config()
    label = f"{cfg.app_project}-state"
    tags = standard_tags(pulumi.get_project(), cfg.stack, None)

    state = StateBackend(
        "state",
        StateArgs(
            resource_group_name=naming.state_group_name(cfg.app_project),
            storage_account_name=naming.storage_account_name(label, client.subscription_id),
            key_vault_name=naming.key_vault_name(label, client.subscription_id),
            location=cfg.location,
            tenant_id=client.tenant_id,
            tags=tags,
        ),
    )
    github = GitHubIdentity(
        "github",
        GitHubIdentityArgs(
            resource_group_name=state.group.name,
            identity_name=f"id-{cfg.app_project}-github",
            location=cfg.location,
            repository=cfg.github_repository,
            branch=cfg.github_branch,
            environment=cfg.github_environment,
            tags=tags,
        ),
    )
    access = DeployerAccess(
        "access",
        AccessArgs(
            subscription_id=client.subscription_id,
            # Custom role names are unique per tenant; the subscription keeps them apart.
            role_name=f"{cfg.app_project} stack deployer ({client.subscription_id})",
            principal_id=github.identity.principal_id,
            state_container_scope=state.container_scope,
            secrets_key_scope=state.key.id,
            developer_principal_ids=cfg.developer_principal_ids,
        ),
    )

    # The deployer role may delete resource groups (each app stack owns one); this lock keeps it,
    # and anyone else, from deleting the group that holds every stack's state. Created last so
    # that `pulumi destroy` of this project removes it first.
    authorization.ManagementLockAtResourceGroupLevel(
        "keep-state",
        resource_group_name=state.group.name,
        level=authorization.LockLevel.CAN_NOT_DELETE,
        notes="Holds the Pulumi state and secrets key of every app stack.",
        opts=pulumi.ResourceOptions(depends_on=[state, github, access]),
    )

    # Exactly the GitHub repository variables (Settings > Secrets and variables > Variables).
    pulumi.export("AZURE_CLIENT_ID", github.identity.client_id)
    pulumi.export("AZURE_TENANT_ID", client.tenant_id)
    pulumi.export("AZURE_SUBSCRIPTION_ID", client.subscription_id)
    pulumi.export("PULUMI_BACKEND_URL", state.backend_url)
    pulumi.export("PULUMI_SECRETS_PROVIDER", state.secrets_provider)
    pulumi.export("AZURE_LOCATION", cfg.location)
