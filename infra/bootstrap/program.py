"""The bootstrap stack, composed: config, state backend, the groups CI deploys into, one GitHub
identity per CI target, their roles, and the GitHub repository variables as outputs (no
secrets among them)."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, resources

from infra import naming
from infra.bootstrap import config
from infra.bootstrap.access import AccessArgs, CiPrincipal, DeployerAccess
from infra.bootstrap.github import GitHubIdentity, GitHubIdentityArgs
from infra.bootstrap.state import StateArgs, StateBackend
from infra.bootstrap.targets import targets
from infra.tags import standard_tags


def main() -> None:
    """Declare the bootstrap resources and export the GitHub repository variables."""
    cfg = config.load()
    client = authorization.get_client_config()
    label = f"{cfg.app_project}-state"
    tags = standard_tags(pulumi.get_project(), cfg.stack, None)
    ci_targets = targets(
        cfg.app_project,
        cfg.github_repository,
        cfg.github_branch,
        cfg.github_environment,
        cfg.github_prod_environment,
    )

    state = StateBackend(
        "state",
        StateArgs(
            resource_group_name=naming.state_group_name(cfg.app_project),
            storage_account_name=naming.storage_account_name(label, client.subscription_id),
            key_vault_name=naming.key_vault_name(
                label, client.subscription_id, cfg.key_vault_generation
            ),
            location=cfg.location,
            tenant_id=client.tenant_id,
            tags=tags,
        ),
    )
    # The groups CI's stacks deploy into: created here because CI may not create groups, and
    # each CI identity's write roles are scoped to its own. No delete lock: a lock on a group
    # also blocks deleting the resources in it, which `pulumi destroy` of a stack must do.
    groups = {
        target.group: resources.ResourceGroup(
            target.group,
            resource_group_name=target.group,
            location=cfg.location,
            tags=tags,
        )
        for target in ci_targets
    }
    identities = {
        target.key: GitHubIdentity(
            target.key,
            GitHubIdentityArgs(
                # In the state group, where no CI role reaches: no CI identity can attach
                # another CI identity to a container it runs.
                resource_group_name=state.group.name,
                identity_name=f"id-{cfg.app_project}-{target.key}",
                location=cfg.location,
                subjects=target.subjects,
                tags=tags,
            ),
        )
        for target in ci_targets
    }
    access = DeployerAccess(
        "access",
        AccessArgs(
            subscription_id=client.subscription_id,
            project=cfg.app_project,
            ci=[
                CiPrincipal(target, identities[target.key].identity.principal_id)
                for target in ci_targets
            ],
            group_ids={name: group.id for name, group in groups.items()},
            state_container_scope=state.container_scope,
            secrets_key_scope=state.key.id,
            developer_principal_ids=cfg.developer_principal_ids,
        ),
    )

    # Nobody deletes the group that holds every stack's state and secrets key (CI has no role
    # there at all; this also stops an admin's slip). Created last so that `pulumi destroy` of
    # this project removes it first.
    authorization.ManagementLockAtResourceGroupLevel(
        "keep-state",
        resource_group_name=state.group.name,
        level=authorization.LockLevel.CAN_NOT_DELETE,
        notes="Holds the Pulumi state and secrets key of every app stack.",
        opts=pulumi.ResourceOptions(depends_on=[state, *identities.values(), access]),
    )

    # Exactly the GitHub repository variables (Settings > Secrets and variables > Variables).
    for target in ci_targets:
        pulumi.export(target.variable, identities[target.key].identity.client_id)
    pulumi.export("AZURE_TENANT_ID", client.tenant_id)
    pulumi.export("AZURE_SUBSCRIPTION_ID", client.subscription_id)
    pulumi.export("PULUMI_BACKEND_URL", state.backend_url)
    pulumi.export("PULUMI_SECRETS_PROVIDER", state.secrets_provider)
    pulumi.export("AZURE_LOCATION", cfg.location)
