"""Built-in Azure role IDs and the helpers both Pulumi projects use to grant them."""

from __future__ import annotations

from typing import Final

# Built-in role definition IDs (the same in every tenant).
ACR_PULL: Final = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
ACR_PUSH: Final = "8311e382-0749-4cb8-b61a-304f252e45ec"
RBAC_ADMINISTRATOR: Final = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
STORAGE_BLOB_DATA_CONTRIBUTOR: Final = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
KEY_VAULT_CRYPTO_USER: Final = "12338af0-0e69-4776-bea7-57ae8d297424"
READER: Final = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
# Query an Azure Monitor workspace's Prometheus metrics (learn.microsoft.com "Query Prometheus
# metrics using the API and PromQL": assign Monitoring Data Reader on the workspace).
MONITORING_DATA_READER: Final = "b0d8363b-8ddd-447d-831f-62ca05bff136"
# May send metrics to a data collection rule: what the metrics shipper's identity holds on its
# DCR (learn.microsoft.com "Send Prometheus metrics ... to an Azure Monitor workspace").
MONITORING_METRICS_PUBLISHER: Final = "3913510d-42f4-4e42-8a64-420c390055eb"
# The roles an app stack assigns to its own identity, the only ones its deployer may assign.
STACK_ROLES: Final = (ACR_PULL, MONITORING_METRICS_PUBLISHER)
# Never granted by this repository; listed so tests can assert exactly that.
OWNER: Final = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR: Final = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR: Final = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"


def role_definition_id(subscription_id: str, role_id: str) -> str:
    """The full resource ID a role assignment needs for a built-in role."""
    return (
        f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/"
        f"roleDefinitions/{role_id}"
    )


def only_assign_role_condition(*role_ids: str) -> str:
    """ABAC condition for "Role Based Access Control Administrator": the holder may create and
    delete assignments of the roles `role_ids`, and of no other role, to principals of type
    ServicePrincipal, at the scope of the assignment and below.

    What it does not limit: which service principal. Any one in the tenant qualifies (a managed
    identity, or the service principal of any app registration), because the stacks create
    their pull identities after the bootstrap, so their ids cannot be listed here.

    Syntax: learn.microsoft.com "Delegate Azure role assignment management to others with
    conditions" (constrain roles and principal types; several roles as `{id1, id2}`).
    """
    if not role_ids:
        raise ValueError("a condition needs at least one role")
    roles = ", ".join(role_ids)
    return (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
        f"ForAnyOfAnyValues:GuidEquals {{{roles}}} AND "
        "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] "
        "ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'})) AND "
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
        f"ForAnyOfAnyValues:GuidEquals {{{roles}}} AND "
        "@Resource[Microsoft.Authorization/roleAssignments:PrincipalType] "
        "ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}))"
    )
