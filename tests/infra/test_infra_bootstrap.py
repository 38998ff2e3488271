"""The bootstrap program, run whole under Pulumi's mocks."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

import pytest

from infra import naming, roles
from infra.bootstrap.access import DEPLOYER_ACTIONS
from infra.errors import ConfigError
from tests.infra.pulumi_harness import (
    BLOB_CONTAINER,
    FEDERATED_CREDENTIAL,
    IDENTITY,
    KEY,
    RESOURCE_GROUP,
    ROLE_ASSIGNMENT,
    ROLE_DEFINITION,
    STORAGE_ACCOUNT,
    SUBSCRIPTION_ID,
    TENANT_ID,
    VAULT,
    ProgramRun,
    plain,
)

BootstrapStack = Callable[..., ProgramRun]
REPOSITORY = "octo-org/banknote-mlops"
LOCK = "azure-native:authorization:ManagementLockAtResourceGroupLevel"
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def run(bootstrap_stack: BootstrapStack) -> ProgramRun:
    """The bootstrap run with only the required config."""
    result = bootstrap_stack()
    assert result.error is None, result.error
    return result


def ci_principal(run: ProgramRun) -> str:
    principal: str = run.one(IDENTITY).state["principalId"]
    return principal


def test_each_resource_exactly_once(run: ProgramRun) -> None:
    for typ in (RESOURCE_GROUP, STORAGE_ACCOUNT, BLOB_CONTAINER, VAULT, KEY, IDENTITY, LOCK):
        run.one(typ)
    run.one(ROLE_DEFINITION)
    assert len(run.of_type(FEDERATED_CREDENTIAL)) == 3
    assert len(run.of_type(ROLE_ASSIGNMENT)) == 4


def test_federated_subjects_match_the_configured_repository(run: ProgramRun) -> None:
    credentials = [plain(c.inputs) for c in run.of_type(FEDERATED_CREDENTIAL)]
    assert {c["subject"] for c in credentials} == {
        f"repo:{REPOSITORY}:ref:refs/heads/main",
        f"repo:{REPOSITORY}:pull_request",
        f"repo:{REPOSITORY}:environment:dev",
    }
    identity_name = run.one(IDENTITY).inputs["resourceName"]
    for credential in credentials:
        assert credential["issuer"] == "https://token.actions.githubusercontent.com"
        assert credential["audiences"] == ["api://AzureADTokenExchange"]
        assert credential["resourceName"] == identity_name


def test_branch_and_environment_are_configurable(bootstrap_stack: BootstrapStack) -> None:
    run = bootstrap_stack(githubRepository="me/fork", githubBranch="trunk", githubEnvironment="qa")
    assert {c.inputs["subject"] for c in run.of_type(FEDERATED_CREDENTIAL)} == {
        "repo:me/fork:ref:refs/heads/trunk",
        "repo:me/fork:pull_request",
        "repo:me/fork:environment:qa",
    }


def test_federated_credentials_are_written_one_at_a_time(run: ProgramRun) -> None:
    # Azure rejects concurrent writes of credentials on one identity.
    names = [c.name for c in run.of_type(FEDERATED_CREDENTIAL)]
    assert names == ["main-branch", "pull-requests", "environment-dev"]
    for earlier, later in itertools.pairwise(names):
        assert run.depends_on(FEDERATED_CREDENTIAL, later, FEDERATED_CREDENTIAL, earlier)


def test_ci_roles_are_exactly_the_least_needed(run: ProgramRun) -> None:
    principal = ci_principal(run)
    subscription = f"/subscriptions/{SUBSCRIPTION_ID}"
    deployer = run.one(ROLE_DEFINITION)
    grants = {
        (a.inputs["roleDefinitionId"], a.inputs["scope"])
        for a in run.of_type(ROLE_ASSIGNMENT)
        if a.inputs["principalId"] == principal
    }
    assert grants == {
        (deployer.id, subscription),
        (roles.role_definition_id(SUBSCRIPTION_ID, roles.RBAC_ADMINISTRATOR), subscription),
        (
            roles.role_definition_id(SUBSCRIPTION_ID, roles.STORAGE_BLOB_DATA_CONTRIBUTOR),
            run.one(BLOB_CONTAINER).id,
        ),
        (roles.role_definition_id(SUBSCRIPTION_ID, roles.KEY_VAULT_CRYPTO_USER), run.one(KEY).id),
    }
    for assignment in run.of_type(ROLE_ASSIGNMENT):
        assert assignment.inputs["principalType"] == "ServicePrincipal"


def test_no_owner_contributor_or_user_access_administrator(run: ProgramRun) -> None:
    broad = {roles.OWNER, roles.CONTRIBUTOR, roles.USER_ACCESS_ADMINISTRATOR}
    for assignment in run.of_type(ROLE_ASSIGNMENT):
        assert assignment.inputs["roleDefinitionId"].rsplit("/", 1)[1] not in broad


def test_rbac_administrator_is_limited_to_acr_pull_for_service_principals(
    run: ProgramRun,
) -> None:
    admin_role = roles.role_definition_id(SUBSCRIPTION_ID, roles.RBAC_ADMINISTRATOR)
    (assignment,) = [
        a for a in run.of_type(ROLE_ASSIGNMENT) if a.inputs["roleDefinitionId"] == admin_role
    ]
    condition = assignment.inputs["condition"]
    assert assignment.inputs["conditionVersion"] == "2.0"
    assert set(GUID.findall(condition)) == {roles.ACR_PULL}
    assert condition.count("GuidEquals {7f951dda-4ed3-4680-a7ca-43fe172d538d}") == 2
    assert "roleAssignments/write" in condition
    assert "roleAssignments/delete" in condition
    assert condition.count("StringEqualsIgnoreCase {'ServicePrincipal'}") == 2


def test_custom_deployer_role_covers_only_what_the_app_stack_manages(run: ProgramRun) -> None:
    role = plain(run.one(ROLE_DEFINITION).inputs)
    subscription = f"/subscriptions/{SUBSCRIPTION_ID}"
    assert role["assignableScopes"] == [subscription]
    (permission,) = role["permissions"]
    actions = permission["actions"]
    assert actions == list(DEPLOYER_ACTIONS)
    assert "dataActions" not in permission
    allowed = (
        "Microsoft.Resources/subscriptions/resourceGroups/",
        "Microsoft.ContainerRegistry/",
        "Microsoft.ContainerInstance/",
        "Microsoft.ManagedIdentity/userAssignedIdentities/",
        "Microsoft.Authorization/roleAssignments/read",
    )
    for action in actions:
        assert action.startswith(allowed), action
        # It must not be able to trust new token issuers or grant roles on its own.
        assert "federatedIdentityCredentials" not in action
        assert action != "*"
        assert not action.startswith("Microsoft.Authorization/roleAssignments/w")
    # Each stack creates its own registry after bootstrap, so push rights (AcrPush's
    # registries/push/write) come with the registry actions rather than a per-registry grant.
    assert "Microsoft.ContainerRegistry/*" in actions


def test_state_storage_and_key_are_locked_down(run: ProgramRun) -> None:
    account = run.one(STORAGE_ACCOUNT).inputs
    assert account["allowSharedKeyAccess"] is False
    assert account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert run.one(BLOB_CONTAINER).inputs["publicAccess"] == "None"
    vault = plain(run.one(VAULT).inputs)["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["enablePurgeProtection"] is True
    assert vault["tenantId"] == TENANT_ID
    key = plain(run.one(KEY).inputs)["properties"]
    assert key["kty"] == "RSA"
    assert {"encrypt", "decrypt"} <= set(key["keyOps"])
    lock = run.one(LOCK).inputs
    assert lock["level"] == "CanNotDelete"
    assert lock["resourceGroupName"] == run.one(RESOURCE_GROUP).inputs["resourceGroupName"]


def test_outputs_are_exactly_the_github_variables_and_not_secret(run: ProgramRun) -> None:
    out = run.exports
    assert set(out) == {
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_SUBSCRIPTION_ID",
        "PULUMI_BACKEND_URL",
        "PULUMI_SECRETS_PROVIDER",
        "AZURE_LOCATION",
    }
    assert run.secret_exports == set()
    assert out["AZURE_CLIENT_ID"] == run.one(IDENTITY).state["clientId"]
    assert out["AZURE_TENANT_ID"] == TENANT_ID
    assert out["AZURE_SUBSCRIPTION_ID"] == SUBSCRIPTION_ID
    account = run.one(STORAGE_ACCOUNT).inputs["accountName"]
    assert out["PULUMI_BACKEND_URL"] == f"azblob://pulumi-state?storage_account={account}"
    vault = run.one(VAULT).inputs["vaultName"]
    assert out["PULUMI_SECRETS_PROVIDER"] == (
        f"azurekeyvault://{vault}.vault.azure.net/keys/pulumi-secrets"
    )
    assert out["AZURE_LOCATION"] == "westeurope"


def test_every_taggable_resource_is_tagged(run: ProgramRun) -> None:
    for typ in (RESOURCE_GROUP, STORAGE_ACCOUNT, VAULT, KEY, IDENTITY):
        tags = run.one(typ).inputs["tags"]
        assert tags["managed-by"] == "pulumi"
        assert tags["project"] == "banknote-bootstrap"


def test_developers_get_exactly_the_ci_roles(bootstrap_stack: BootstrapStack) -> None:
    developers = ["aaaaaaaa-1111-2222-3333-444444444444", "bbbbbbbb-1111-2222-3333-444444444444"]
    run = bootstrap_stack(developerPrincipalIds=", ".join(developers))
    assert len(run.of_type(ROLE_ASSIGNMENT)) == 4 * 3

    def grants(principal: str) -> set[tuple[str, str, str | None]]:
        return {
            (a.inputs["roleDefinitionId"], a.inputs["scope"], a.inputs.get("condition"))
            for a in run.of_type(ROLE_ASSIGNMENT)
            if a.inputs["principalId"] == principal
        }

    ci = grants(ci_principal(run))
    assert len(ci) == 4
    for developer in developers:
        assert grants(developer) == ci


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"githubRepository": ""}, "githubRepository is required"),
        ({"githubRepository": "just-a-name"}, "githubRepository='just-a-name' is invalid"),
        ({"githubBranch": "a..b"}, "githubBranch='a..b' is invalid"),
        ({"location": "West Europe"}, "location='West Europe' is invalid"),
        ({"developerPrincipalIds": "alice"}, "developerPrincipalIds='alice' is invalid"),
    ],
)
def test_invalid_config_fails_before_any_resource(
    bootstrap_stack: BootstrapStack, config: dict[str, str], message: str
) -> None:
    run = bootstrap_stack(**config)
    assert isinstance(run.error, ConfigError)
    assert message in str(run.error)
    assert run.resources == []
    assert run.calls == []


def test_state_group_lock_is_created_after_everything_in_it(run: ProgramRun) -> None:
    # A CanNotDelete lock blocks deleting anything inside the group (role assignments on the
    # container and key too), so `pulumi destroy` must remove it first: it depends on all.
    lock = run.graph[run.urn(LOCK, "keep-state")]
    for typ, name in [
        (STORAGE_ACCOUNT, "state"),
        (BLOB_CONTAINER, "state"),
        (VAULT, "secrets"),
        (KEY, "secrets"),
        (IDENTITY, "github"),
        (FEDERATED_CREDENTIAL, "environment-dev"),
        (ROLE_ASSIGNMENT, "ci-state"),
        (ROLE_ASSIGNMENT, "ci-secrets"),
    ]:
        assert run.urn(typ, name) in lock.dependencies, name


def test_deployer_role_has_a_stable_guid(bootstrap_stack: BootstrapStack) -> None:
    first = bootstrap_stack().one(ROLE_DEFINITION).inputs["roleDefinitionId"]
    again = bootstrap_stack(githubBranch="main").one(ROLE_DEFINITION).inputs["roleDefinitionId"]
    assert GUID.fullmatch(first)
    assert first == again


def test_no_app_stack_can_name_the_state_group(run: ProgramRun) -> None:
    state_group = run.one(RESOURCE_GROUP).inputs["resourceGroupName"]
    assert state_group == "rg-banknote_state"
    for stack in ("state", "_state", "ops", "bootstrap"):
        assert naming.resource_group_name(naming.dns_label("banknote", stack)) != state_group
