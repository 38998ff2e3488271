"""The least roles the GitHub Actions identity needs, and nothing broader.

App stacks each create their own resource group (pr-<n> stacks come and go), and a resource
group that does not exist yet cannot be a role scope. So the identity gets, at subscription
scope, a custom "stack deployer" role limited to what the app program manages: resource
groups, container registries (which includes push, i.e. AcrPush), container instances and
user-assigned identities (not their federated credentials, so it cannot trust new token
issuers). Not Contributor: that would reach every resource type in the subscription. Creating
the AcrPull assignment needs "Role Based Access Control Administrator", constrained by an ABAC
condition to AcrPull for service principals. State and secrets access is scoped to the one
blob container and the one key. Developers listed in `developerPrincipalIds` get the same set,
so `make stack-up` works for them without broader roles.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

import pulumi
from pulumi_azure_native import authorization

from infra import roles

# What `pulumi up`/`destroy` of the app program does through Azure Resource Manager.
DEPLOYER_ACTIONS: Final = (
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Resources/subscriptions/resourceGroups/write",
    "Microsoft.Resources/subscriptions/resourceGroups/delete",
    "Microsoft.ContainerRegistry/*",
    "Microsoft.ContainerInstance/*",
    "Microsoft.ManagedIdentity/userAssignedIdentities/read",
    "Microsoft.ManagedIdentity/userAssignedIdentities/write",
    "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
    "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
    "Microsoft.Authorization/roleAssignments/read",
)


@dataclass(frozen=True)
class Grant:
    """One role, at one scope, for each principal."""

    suffix: str
    role_definition_id: pulumi.Input[str]
    scope: pulumi.Input[str]
    condition: str | None
    description: str


@dataclass(frozen=True)
class AccessArgs:
    """Inputs of `DeployerAccess`."""

    subscription_id: str
    role_name: str
    principal_id: pulumi.Input[str]
    state_container_scope: pulumi.Input[str]
    secrets_key_scope: pulumi.Input[str]
    developer_principal_ids: tuple[str, ...]


class DeployerAccess(pulumi.ComponentResource):
    """Custom deployer role + the role assignments for the CI identity (and developers)."""

    deployer_role: authorization.RoleDefinition
    assignments: list[authorization.RoleAssignment]

    def __init__(
        self, name: str, args: AccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("banknote:bootstrap:DeployerAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        subscription = f"/subscriptions/{args.subscription_id}"

        def builtin(role_id: str) -> str:
            return roles.role_definition_id(args.subscription_id, role_id)

        self.deployer_role = authorization.RoleDefinition(
            "stack-deployer",
            # A custom role's name is a GUID; derive it so re-running finds the same role.
            role_definition_id=str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"{subscription}/{args.role_name}")
            ),
            role_name=args.role_name,
            description="Deploys and destroys the app's Pulumi stacks (registry, ACI, identity).",
            role_type="CustomRole",
            scope=subscription,
            assignable_scopes=[subscription],
            permissions=[authorization.PermissionArgs(actions=list(DEPLOYER_ACTIONS))],
            opts=child,
        )
        grants = [
            Grant(
                "stack-deployer",
                self.deployer_role.id,
                subscription,
                None,
                "App stacks: resource groups, registries, container groups.",
            ),
            Grant(
                "grant-acr-pull",
                builtin(roles.RBAC_ADMINISTRATOR),
                subscription,
                roles.only_assign_role_condition(roles.ACR_PULL),
                "May assign AcrPull to managed identities, and no other role.",
            ),
            Grant(
                "state",
                builtin(roles.STORAGE_BLOB_DATA_CONTRIBUTOR),
                args.state_container_scope,
                None,
                "Reads and writes Pulumi state in this container only.",
            ),
            Grant(
                "secrets",
                builtin(roles.KEY_VAULT_CRYPTO_USER),
                args.secrets_key_scope,
                None,
                "Encrypts and decrypts Pulumi stack secrets with this key only.",
            ),
        ]
        # CI, and the developers who run their own stacks (`make stack-up`), get the same set.
        principals: list[tuple[str, pulumi.Input[str], str | None]] = [
            ("ci", args.principal_id, authorization.PrincipalType.SERVICE_PRINCIPAL)
        ]
        principals += [(f"developer-{p.lower()}", p, None) for p in args.developer_principal_ids]
        self.assignments = [
            authorization.RoleAssignment(
                f"{who}-{grant.suffix}",
                principal_id=principal_id,
                principal_type=principal_type,
                role_definition_id=grant.role_definition_id,
                scope=grant.scope,
                condition=grant.condition,
                condition_version="2.0" if grant.condition else None,
                description=grant.description,
                opts=child,
            )
            for who, principal_id, principal_type in principals
            for grant in grants
        ]
        self.register_outputs({"deployer_role_id": self.deployer_role.id})
