"""The least roles each CI identity needs, and the roles of developers who run their own stacks.

CI (one identity per `Target`, infra/bootstrap/targets.py) writes through Azure Resource Manager
only inside its own resource group, which the bootstrap creates:

- "<project> stack deployer", a custom role limited to what the app program manages on Azure
  Container Instances: container registries (push and import included), container instances,
  Log Analytics workspaces, user-assigned identities (not their federated credentials, so it
  cannot trust new token issuers), the monitoring parts (Azure Monitor workspace, data
  collection endpoint and rule, Prometheus rule groups, action group, workbook) and reading its
  group. Scoped to the group,
  `userAssignedIdentities/assign/action` reaches only the identities in that group: the
  stacks' own pull identities, never the CI identities, which live in the state group.
- "<project> apps deployer", the same for Azure Container Apps (the prod target): container
  apps and managed environments and their diagnostic settings instead of container instances.
- "Role Based Access Control Administrator", scoped to the group and conditioned to the two roles
  a stack gives its own identity, AcrPull and Monitoring Metrics Publisher, for service
  principals (infra/roles.py says exactly what that allows).
- Reader on the groups it previews (the PR identity reads dev's group).
- "Monitoring Data Reader" on its own group where its rollout's gate queries the Azure Monitor
  workspace there (the prod identity): read-only, metrics only.
- "<project> state blobs", a custom data role on the state container (read, write, delete
  blobs; not the container itself), conditioned so that it writes only its own stacks' blobs
  (infra/bootstrap/state_access.py).
- "Key Vault Crypto User" on the one key that encrypts stack secrets.

No CI identity holds any role at subscription scope. Developers listed in
`developerPrincipalIds` create their own stack's group, so they hold the deployer role and a
group role at subscription scope, the same conditioned RBAC Administrator there, and unconditioned
state access: people an admin names, not code from a branch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pulumi
from pulumi_azure_native import authorization

from infra import roles
from infra.bootstrap import state_access
from infra.bootstrap.targets import Target

# What `pulumi up`/`destroy` of the app program does through Azure Resource Manager, inside a
# group that already exists, whatever the platform.
_COMMON_ACTIONS: Final = (
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.ContainerRegistry/*",
    "Microsoft.ManagedIdentity/userAssignedIdentities/read",
    "Microsoft.ManagedIdentity/userAssignedIdentities/write",
    "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
    "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
    "Microsoft.Authorization/roleAssignments/read",
    # The stack's log workspace; sharedKeys/action (ACI's diagnostics) is under workspaces/*.
    "Microsoft.OperationalInsights/workspaces/*",
    # Monitoring (config `monitoring`, infra/managed_prometheus.py): the Azure Monitor workspace,
    # the data collection endpoint and rule its ingestion needs, the alert rule groups, the
    # action group alerts go to, and the dashboard (a workbook). The shipper's cache rule is a
    # registry child, under Microsoft.ContainerRegistry/*.
    "Microsoft.Monitor/accounts/*",
    "Microsoft.Insights/dataCollectionEndpoints/*",
    "Microsoft.Insights/dataCollectionRules/*",
    "Microsoft.AlertsManagement/prometheusRuleGroups/*",
    "Microsoft.Insights/actionGroups/*",
    "Microsoft.Insights/workbooks/*",
)
DEPLOYER_ACTIONS: Final = (*_COMMON_ACTIONS, "Microsoft.ContainerInstance/*")
APPS_DEPLOYER_ACTIONS: Final = (
    *_COMMON_ACTIONS,
    "Microsoft.App/managedEnvironments/*",
    "Microsoft.App/containerApps/*",
    # The environment's logs go to the workspace through a diagnostic setting on it.
    "Microsoft.Insights/diagnosticSettings/*",
)
# What a developer's own stack adds: creating and deleting its rg-<label> group.
GROUP_ACTIONS: Final = (
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Resources/subscriptions/resourceGroups/write",
    "Microsoft.Resources/subscriptions/resourceGroups/delete",
)


@dataclass(frozen=True)
class Grant:
    """One role at one scope, with an optional ABAC condition."""

    suffix: str
    role_definition_id: pulumi.Input[str]
    scope: pulumi.Input[str]
    condition: str | None
    description: str


@dataclass(frozen=True)
class CiPrincipal:
    """A CI identity and the target it serves."""

    target: Target
    principal_id: pulumi.Input[str]


@dataclass(frozen=True)
class AccessArgs:
    """Inputs of `DeployerAccess`."""

    subscription_id: str
    project: str
    ci: Sequence[CiPrincipal]
    group_ids: dict[str, pulumi.Input[str]]  # resource group name -> its resource id
    state_container_scope: pulumi.Input[str]
    secrets_key_scope: pulumi.Input[str]
    developer_principal_ids: tuple[str, ...]


class DeployerAccess(pulumi.ComponentResource):
    """The custom roles and every role assignment of CI and developers."""

    deployer_role: authorization.RoleDefinition
    apps_deployer_role: authorization.RoleDefinition
    group_role: authorization.RoleDefinition
    state_role: authorization.RoleDefinition
    assignments: list[authorization.RoleAssignment]

    def __init__(
        self, name: str, args: AccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("banknote:bootstrap:DeployerAccess", name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        self._subscription = f"/subscriptions/{args.subscription_id}"
        self._args = args

        self.deployer_role = self._custom_role(
            "stack-deployer",
            "stack deployer",
            "Deploys and destroys the app's stacks inside an existing group.",
            authorization.PermissionArgs(actions=list(DEPLOYER_ACTIONS)),
        )
        self.apps_deployer_role = self._custom_role(
            "apps-deployer",
            "apps deployer",
            "Deploys and destroys the app's Container Apps stacks inside an existing group.",
            authorization.PermissionArgs(actions=list(APPS_DEPLOYER_ACTIONS)),
        )
        self.group_role = self._custom_role(
            "stack-groups",
            "stack groups",
            "Creates and deletes a developer's own stack group.",
            authorization.PermissionArgs(actions=list(GROUP_ACTIONS)),
        )
        self.state_role = self._custom_role(
            "state-blobs",
            "state blobs",
            "Reads and writes Pulumi state blobs (not the container itself).",
            authorization.PermissionArgs(data_actions=list(state_access.STATE_DATA_ACTIONS)),
        )

        self.assignments = []
        for ci in args.ci:
            self._assign(ci.target.key, ci.principal_id, True, self._ci_grants(ci.target))
        for principal in args.developer_principal_ids:
            self._assign(f"developer-{principal.lower()}", principal, False, self._dev_grants())
        self.register_outputs({"deployer_role_id": self.deployer_role.id})

    def _custom_role(
        self, name: str, title: str, description: str, permission: authorization.PermissionArgs
    ) -> authorization.RoleDefinition:
        role_name = f"{self._args.project} {title} ({self._args.subscription_id})"
        return authorization.RoleDefinition(
            name,
            # A custom role's name is a GUID; derive it so re-running finds the same role.
            role_definition_id=str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"{self._subscription}/{role_name}")
            ),
            # Custom role names are unique per tenant; the subscription keeps them apart.
            role_name=role_name,
            description=description,
            role_type="CustomRole",
            scope=self._subscription,
            assignable_scopes=[self._subscription],
            permissions=[permission],
            opts=self._child,
        )

    def _builtin(self, role_id: str) -> str:
        return roles.role_definition_id(self._args.subscription_id, role_id)

    def _ci_grants(self, target: Target) -> list[Grant]:
        group = self._args.group_ids[target.group]
        writes = state_access.write_patterns(
            self._args.project, target.stacks, initialises_backend=target.initialises_backend
        )
        role = self.apps_deployer_role if target.platform == "containerapps" else self.deployer_role
        grants = [
            Grant(
                "stack-deployer",
                role.id,
                group,
                None,
                f"Deploys {', '.join(target.stacks)} into {target.group} only.",
            ),
            Grant(
                # The name predates the publisher role; renaming it would replace the grant.
                "grant-acr-pull",
                self._builtin(roles.RBAC_ADMINISTRATOR),
                group,
                roles.only_assign_role_condition(*roles.STACK_ROLES),
                f"May assign AcrPull and Monitoring Metrics Publisher to service principals "
                f"inside {target.group}, no other role.",
            ),
            Grant(
                "state",
                self.state_role.id,
                self._args.state_container_scope,
                state_access.write_condition(writes),
                f"Reads all state; writes only the state of {', '.join(target.stacks)}.",
            ),
            Grant(
                "secrets",
                self._builtin(roles.KEY_VAULT_CRYPTO_USER),
                self._args.secrets_key_scope,
                None,
                "Encrypts and decrypts Pulumi stack secrets with this key only.",
            ),
        ]
        grants += [
            Grant(
                f"read-{read}",
                self._builtin(roles.READER),
                self._args.group_ids[read],
                None,
                f"Reads {read} (a preview of dev, or dev's image to import); changes nothing.",
            )
            for read in target.reads
        ]
        if target.queries_metrics:
            grants.append(
                Grant(
                    "read-metrics",
                    self._builtin(roles.MONITORING_DATA_READER),
                    group,
                    None,
                    f"Queries the metrics in {target.group}'s Azure Monitor workspace (the "
                    "rollout's gate); changes nothing.",
                )
            )
        return grants

    def _dev_grants(self) -> list[Grant]:
        subscription = self._subscription
        return [
            Grant("stack-deployer", self.deployer_role.id, subscription, None, "Own stacks."),
            Grant(
                "apps-deployer",
                self.apps_deployer_role.id,
                subscription,
                None,
                "Own Container Apps stacks.",
            ),
            Grant("stack-groups", self.group_role.id, subscription, None, "Own stack groups."),
            Grant(
                "grant-acr-pull",
                self._builtin(roles.RBAC_ADMINISTRATOR),
                subscription,
                roles.only_assign_role_condition(*roles.STACK_ROLES),
                "May assign AcrPull and Monitoring Metrics Publisher to service principals, "
                "no other role.",
            ),
            Grant("state", self.state_role.id, self._args.state_container_scope, None, "State."),
            Grant(
                "secrets",
                self._builtin(roles.KEY_VAULT_CRYPTO_USER),
                self._args.secrets_key_scope,
                None,
                "Stack secrets.",
            ),
        ]

    def _assign(
        self, who: str, principal_id: pulumi.Input[str], service: bool, grants: list[Grant]
    ) -> None:
        # Setting the type lets ARM accept a managed identity Entra ID has not replicated yet.
        # Developers are users, the type the SDK and ARM assume when none is given.
        principal_type = authorization.PrincipalType.SERVICE_PRINCIPAL if service else None
        self.assignments += [
            authorization.RoleAssignment(
                f"{who}-{grant.suffix}",
                principal_id=principal_id,
                principal_type=principal_type,
                role_definition_id=grant.role_definition_id,
                scope=grant.scope,
                condition=grant.condition,
                condition_version="2.0" if grant.condition else None,
                description=grant.description,
                opts=self._child,
            )
            for grant in grants
        ]
