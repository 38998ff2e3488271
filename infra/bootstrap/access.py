"""The least roles the GitHub Actions identity needs, and nothing broader.

App stacks each create their own resource group (pr-<n> stacks come and go), and a resource
group that does not exist yet cannot be a role scope. So the identity gets, at subscription
scope, a custom "stack deployer" role limited to what the app program manages: resource
groups, container registries (which includes push, i.e. AcrPush), container instances and
user-assigned identities (not their federated credentials, so it cannot trust new token
issuers). Not Contributor: that would reach every resource type in the subscription. Creating
the AcrPull assignment needs "Role Based Access Control Administrator", constrained by an ABAC
condition to AcrPull for service principals. State and secrets access is scoped to the one
blob container and the one key.
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
        ci = authorization.PrincipalType.SERVICE_PRINCIPAL
        self.assignments = [
            authorization.RoleAssignment(
                "ci-stack-deployer",
                principal_id=args.principal_id,
                principal_type=ci,
                role_definition_id=self.deployer_role.id,
                scope=subscription,
                description="App stacks: resource groups, registries, container groups.",
                opts=child,
            ),
            authorization.RoleAssignment(
                "ci-grant-acr-pull",
                principal_id=args.principal_id,
                principal_type=ci,
                role_definition_id=builtin(roles.RBAC_ADMINISTRATOR),
                scope=subscription,
                condition=roles.only_assign_role_condition(roles.ACR_PULL),
                condition_version="2.0",
                description="May assign AcrPull to managed identities, and no other role.",
                opts=child,
            ),
            authorization.RoleAssignment(
                "ci-state",
                principal_id=args.principal_id,
                principal_type=ci,
                role_definition_id=builtin(roles.STORAGE_BLOB_DATA_CONTRIBUTOR),
                scope=args.state_container_scope,
                description="Reads and writes Pulumi state in this container only.",
                opts=child,
            ),
            authorization.RoleAssignment(
                "ci-secrets",
                principal_id=args.principal_id,
                principal_type=ci,
                role_definition_id=builtin(roles.KEY_VAULT_CRYPTO_USER),
                scope=args.secrets_key_scope,
                description="Encrypts and decrypts Pulumi stack secrets with this key only.",
                opts=child,
            ),
        ]
        # Developers running `make stack-up` need the same state and key access (their own
        # Azure roles cover the rest).
        for developer in args.developer_principal_ids:
            for role_id, scope, what in (
                (roles.STORAGE_BLOB_DATA_CONTRIBUTOR, args.state_container_scope, "state"),
                (roles.KEY_VAULT_CRYPTO_USER, args.secrets_key_scope, "secrets"),
            ):
                self.assignments.append(
                    authorization.RoleAssignment(
                        f"developer-{developer.lower()}-{what}",
                        principal_id=developer,
                        role_definition_id=builtin(role_id),
                        scope=scope,
                        opts=child,
                    )
                )
        self.register_outputs({"deployer_role_id": self.deployer_role.id})
