"""The bootstrap program, run whole under Pulumi's mocks: what each identity may write, where."""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from infra import naming, roles
from infra.bootstrap import state_access
from infra.bootstrap.access import APPS_DEPLOYER_ACTIONS, DEPLOYER_ACTIONS, GROUP_ACTIONS
from infra.errors import ConfigError
from tests.infra.pulumi_harness import (
    BLOB_CONTAINER,
    FEDERATED_CREDENTIAL,
    IDENTITY,
    KEY,
    RESOURCE_GROUP,
    ROLE_ASSIGNMENT,
    ROLE_DEFINITION,
    ROOT,
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
SUBSCRIPTION = f"/subscriptions/{SUBSCRIPTION_ID}"
DEV_GROUP, PR_GROUP, STATE_GROUP = "rg-banknote_dev", "rg-banknote_pr", "rg-banknote_state"
PROD_GROUP = "rg-banknote_prod"
CI_KEYS = ("deploy", "pr", "prod")


@pytest.fixture
def run(bootstrap_stack: BootstrapStack) -> ProgramRun:
    """The bootstrap run with only the required config."""
    result = bootstrap_stack()
    assert result.error is None, result.error
    return result


def identity(run: ProgramRun, key: str) -> dict[str, Any]:
    (found,) = [r for r in run.of_type(IDENTITY) if r.name == key]
    return found.state


def assignments_of(run: ProgramRun, principal: str) -> list[dict[str, Any]]:
    return [a.inputs for a in run.of_type(ROLE_ASSIGNMENT) if a.inputs["principalId"] == principal]


def group_id(run: ProgramRun, name: str) -> str:
    (group,) = [g for g in run.of_type(RESOURCE_GROUP) if g.inputs["resourceGroupName"] == name]
    return group.id


def role_named(run: ProgramRun, logical: str) -> Any:
    (role,) = [r for r in run.of_type(ROLE_DEFINITION) if r.name == logical]
    return role


def test_each_resource_exactly_once(run: ProgramRun) -> None:
    for typ in (STORAGE_ACCOUNT, BLOB_CONTAINER, VAULT, KEY, LOCK):
        run.one(typ)
    assert sorted(g.inputs["resourceGroupName"] for g in run.of_type(RESOURCE_GROUP)) == [
        DEV_GROUP,
        PR_GROUP,
        PROD_GROUP,
        STATE_GROUP,
    ]
    assert sorted(i.name for i in run.of_type(IDENTITY)) == ["deploy", "pr", "prod"]
    assert len(run.of_type(ROLE_DEFINITION)) == 4
    assert len(run.of_type(FEDERATED_CREDENTIAL)) == 4
    assert len(run.of_type(ROLE_ASSIGNMENT)) == 4 + 5 + 6


def test_each_identity_trusts_only_its_own_subjects(run: ProgramRun) -> None:
    # GitHub's OIDC subject claims (docs.github.com "OpenID Connect reference"): a job with an
    # environment presents `environment:<name>`, a pull_request job `pull_request`, any other
    # job `ref:refs/heads/<branch>`.
    subjects: dict[str, set[str]] = {}
    for credential in run.of_type(FEDERATED_CREDENTIAL):
        owner = credential.name.split("-", 1)[0]
        subjects.setdefault(owner, set()).add(credential.inputs["subject"])
        assert credential.inputs["issuer"] == "https://token.actions.githubusercontent.com"
        assert credential.inputs["audiences"] == ["api://AzureADTokenExchange"]
        assert credential.inputs["resourceName"] == identity(run, owner)["resourceName"]
    assert subjects == {
        # Only the dev environment, which docs/deploy/azure-setup.md restricts to main. No branch
        # subject: the old `ref:refs/heads/main` credential was used by no job.
        "deploy": {f"repo:{REPOSITORY}:environment:dev"},
        # Pull requests, and the scheduled sweep of PR stacks on the default branch.
        "pr": {f"repo:{REPOSITORY}:pull_request", f"repo:{REPOSITORY}:ref:refs/heads/main"},
        # Only the prod environment (restricted to main, reviewers required): nothing broader.
        "prod": {f"repo:{REPOSITORY}:environment:prod"},
    }


def test_branch_and_environment_are_configurable(bootstrap_stack: BootstrapStack) -> None:
    run = bootstrap_stack(githubRepository="me/fork", githubBranch="trunk", githubEnvironment="qa")
    assert {c.inputs["subject"] for c in run.of_type(FEDERATED_CREDENTIAL)} == {
        "repo:me/fork:environment:qa",
        "repo:me/fork:pull_request",
        "repo:me/fork:ref:refs/heads/trunk",
        "repo:me/fork:environment:prod",
    }


def test_federated_credentials_are_written_one_at_a_time_per_identity(run: ProgramRun) -> None:
    # Azure rejects concurrent writes of credentials on one identity.
    names = [c.name for c in run.of_type(FEDERATED_CREDENTIAL) if c.name.startswith("pr-")]
    assert names == ["pr-pull-requests", "pr-pr-stack-sweep"]
    for earlier, later in itertools.pairwise(names):
        assert run.depends_on(FEDERATED_CREDENTIAL, later, FEDERATED_CREDENTIAL, earlier)


# -- identity by identity: what each may write ----------------------------------------------------
ARM_WRITERS = {
    "stack-deployer",
    "apps-deployer",
    "stack-groups",
}  # the custom roles that change resources


def arm_write_scopes(run: ProgramRun, principal: str) -> set[str]:
    """Scopes where the principal may change Azure resources (not role assignments, not data)."""
    writers = {role_named(run, name).id for name in ARM_WRITERS}
    return {a["scope"] for a in assignments_of(run, principal) if a["roleDefinitionId"] in writers}


def role_grant_scopes(run: ProgramRun, principal: str) -> set[str]:
    admin = roles.role_definition_id(SUBSCRIPTION_ID, roles.RBAC_ADMINISTRATOR)
    return {a["scope"] for a in assignments_of(run, principal) if a["roleDefinitionId"] == admin}


def test_the_deploy_identity_writes_only_dev(run: ProgramRun) -> None:
    principal = identity(run, "deploy")["principalId"]
    assert arm_write_scopes(run, principal) == {group_id(run, DEV_GROUP)}
    assert role_grant_scopes(run, principal) == {group_id(run, DEV_GROUP)}
    reader = roles.role_definition_id(SUBSCRIPTION_ID, roles.READER)
    assert not [a for a in assignments_of(run, principal) if a["roleDefinitionId"] == reader]


def test_the_pr_identity_writes_only_pr_stacks_and_reads_dev(run: ProgramRun) -> None:
    principal = identity(run, "pr")["principalId"]
    assert arm_write_scopes(run, principal) == {group_id(run, PR_GROUP)}
    assert role_grant_scopes(run, principal) == {group_id(run, PR_GROUP)}
    reader = roles.role_definition_id(SUBSCRIPTION_ID, roles.READER)
    reads = {a["scope"] for a in assignments_of(run, principal) if a["roleDefinitionId"] == reader}
    assert reads == {group_id(run, DEV_GROUP)}  # the preview of dev


def test_the_prod_identity_writes_only_prod_and_reads_dev(run: ProgramRun) -> None:
    principal = identity(run, "prod")["principalId"]
    assert arm_write_scopes(run, principal) == {group_id(run, PROD_GROUP)}
    assert role_grant_scopes(run, principal) == {group_id(run, PROD_GROUP)}
    reader = roles.role_definition_id(SUBSCRIPTION_ID, roles.READER)
    reads = {a["scope"] for a in assignments_of(run, principal) if a["roleDefinitionId"] == reader}
    # `az acr import` from dev's registry needs read and pull on the source (learn.microsoft.com
    # "Import container images to a container registry", same tenant), which Reader's */read
    # holds; the import action itself only on prod's own registry (the apps deployer role).
    assert reads == {group_id(run, DEV_GROUP)}
    apps_role = role_named(run, "apps-deployer")
    (permission,) = apps_role.inputs["permissions"]
    assert "Microsoft.ContainerRegistry/*" in permission["actions"]  # importImage/action too
    # Its deployer role is the Container Apps one; dev's and the PRs' is the ACI one.
    apps = role_named(run, "apps-deployer").id
    aci = role_named(run, "stack-deployer").id
    granted = {a["roleDefinitionId"] for a in assignments_of(run, principal)}
    assert apps in granted
    assert aci not in granted
    for key in ("deploy", "pr"):
        others = {
            a["roleDefinitionId"] for a in assignments_of(run, identity(run, key)["principalId"])
        }
        assert apps not in others
        assert aci in others


def test_only_the_prod_identity_queries_metrics_and_only_in_prods_group(run: ProgramRun) -> None:
    # The rollout's gate sends PromQL to prod's Azure Monitor workspace with the prod identity's
    # token: Monitoring Data Reader on the workspace (learn.microsoft.com "Query Prometheus
    # metrics using the API and PromQL"). The app stack creates the workspace, in prod's group,
    # after the bootstrap; the group is the scope that exists now.
    reader = roles.role_definition_id(SUBSCRIPTION_ID, roles.MONITORING_DATA_READER)
    granted = {
        key: {a["scope"] for a in assignments_of(run, identity(run, key)["principalId"])
              if a["roleDefinitionId"] == reader}
        for key in CI_KEYS
    }  # fmt: skip
    assert granted == {"deploy": set(), "pr": set(), "prod": {group_id(run, PROD_GROUP)}}


def test_no_ci_identity_holds_any_role_at_subscription_scope(run: ProgramRun) -> None:
    for key in CI_KEYS:
        for assignment in assignments_of(run, identity(run, key)["principalId"]):
            assert assignment["scope"] != SUBSCRIPTION, (key, assignment["roleDefinitionId"])
            assert assignment["principalType"] == "ServicePrincipal"


def test_no_ci_identity_can_attach_a_ci_identity(run: ProgramRun) -> None:
    # userAssignedIdentities/assign/action lets its holder attach an identity to a container
    # group. Scoped to the stacks' groups it reaches their pull identities only; the CI
    # identities live in the state group, where no CI role reaches.
    state_group = group_id(run, STATE_GROUP)
    for ci in run.of_type(IDENTITY):
        assert ci.inputs["resourceGroupName"] == STATE_GROUP
    for key in CI_KEYS:
        for assignment in assignments_of(run, identity(run, key)["principalId"]):
            assert not assignment["scope"].startswith(state_group), key


def test_no_owner_contributor_or_user_access_administrator(run: ProgramRun) -> None:
    broad = {roles.OWNER, roles.CONTRIBUTOR, roles.USER_ACCESS_ADMINISTRATOR}
    for assignment in run.of_type(ROLE_ASSIGNMENT):
        assert assignment.inputs["roleDefinitionId"].rsplit("/", 1)[1] not in broad


def test_rbac_administrator_is_limited_to_the_stacks_roles_for_service_principals(
    run: ProgramRun, app_stack: Callable[..., ProgramRun]
) -> None:
    admin_role = roles.role_definition_id(SUBSCRIPTION_ID, roles.RBAC_ADMINISTRATOR)
    found = [a for a in run.of_type(ROLE_ASSIGNMENT) if a.inputs["roleDefinitionId"] == admin_role]
    assert len(found) == 3
    # What an app stack assigns to its own identity, and nothing else: AcrPull on its registry,
    # Monitoring Metrics Publisher on its data collection rule (infra/managed_prometheus.py; the
    # same component on either platform).
    stack_roles = {roles.ACR_PULL, roles.MONITORING_METRICS_PUBLISHER}
    assert set(roles.STACK_ROLES) == stack_roles
    app = app_stack("alice", monitoring="true")
    assert app.error is None, app.error
    granted = {r.inputs["roleDefinitionId"].rsplit("/", 1)[1] for r in app.of_type(ROLE_ASSIGNMENT)}
    assert granted == stack_roles
    for assignment in found:
        condition = assignment.inputs["condition"]
        assert assignment.inputs["conditionVersion"] == "2.0"
        assert set(GUID.findall(condition)) == stack_roles
        # The documented list form, once for writes and once for deletes (learn.microsoft.com
        # "Delegate Azure role assignment management to others with conditions").
        listed = f"GuidEquals {{{roles.ACR_PULL}, {roles.MONITORING_METRICS_PUBLISHER}}}"
        assert condition.count(listed) == 2
        assert "roleAssignments/write" in condition
        assert "roleAssignments/delete" in condition
        assert condition.count("StringEqualsIgnoreCase {'ServicePrincipal'}") == 2
        # It names no principal: any service principal in the tenant qualifies
        # (docs/deploy/security.md).
        assert "PrincipalId" not in condition


def test_custom_roles_cover_only_what_the_app_stack_manages(run: ProgramRun) -> None:
    deployer = plain(role_named(run, "stack-deployer").inputs)
    assert deployer["assignableScopes"] == [SUBSCRIPTION]
    (permission,) = deployer["permissions"]
    assert permission["actions"] == list(DEPLOYER_ACTIONS)
    assert "dataActions" not in permission
    apps = plain(role_named(run, "apps-deployer").inputs)
    assert apps["assignableScopes"] == [SUBSCRIPTION]
    (apps_permission,) = apps["permissions"]
    assert apps_permission["actions"] == list(APPS_DEPLOYER_ACTIONS)
    assert not any(a.startswith("Microsoft.ContainerInstance/") for a in APPS_DEPLOYER_ACTIONS)
    assert not any(a.startswith("Microsoft.App/") for a in DEPLOYER_ACTIONS)
    common = (
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.ContainerRegistry/",
        "Microsoft.ManagedIdentity/userAssignedIdentities/",
        "Microsoft.Authorization/roleAssignments/read",
        "Microsoft.OperationalInsights/workspaces/",
        # Monitoring, on either platform (infra/managed_prometheus.py).
        "Microsoft.Monitor/accounts/",
        "Microsoft.Insights/dataCollectionEndpoints/",
        "Microsoft.Insights/dataCollectionRules/",
        "Microsoft.AlertsManagement/prometheusRuleGroups/",
        "Microsoft.Insights/actionGroups/",
        "Microsoft.Insights/workbooks/",
    )
    for action in apps_permission["actions"]:
        assert action.startswith(
            (
                *common,
                "Microsoft.App/managedEnvironments/",
                "Microsoft.App/containerApps/",
                "Microsoft.Insights/diagnosticSettings/",
            )
        ), action
        assert "federatedIdentityCredentials" not in action
        assert not action.startswith("Microsoft.Authorization/roleAssignments/w")
    allowed = (*common, "Microsoft.ContainerInstance/")
    for action in permission["actions"]:
        assert action.startswith(allowed), action
        # Not trust new token issuers, not grant roles on its own, not delete its group.
        assert "federatedIdentityCredentials" not in action
        assert action != "*"
        assert not action.startswith("Microsoft.Authorization/roleAssignments/w")
        assert not action.startswith("Microsoft.Resources/subscriptions/resourceGroups/w")
        assert not action.startswith("Microsoft.Resources/subscriptions/resourceGroups/d")
    # Each stack creates its own registry after bootstrap, so push rights (AcrPush's
    # registries/push/write) come with the registry actions rather than a per-registry grant.
    assert "Microsoft.ContainerRegistry/*" in permission["actions"]
    groups = plain(role_named(run, "stack-groups").inputs)["permissions"][0]
    assert groups["actions"] == list(GROUP_ACTIONS)
    # The state role reaches blob data only: no container actions, so no deleting it.
    state = plain(role_named(run, "state-blobs").inputs)["permissions"][0]
    assert "actions" not in state or state["actions"] == []
    assert state["dataActions"] == list(state_access.STATE_DATA_ACTIONS)


# -- state blobs: an ABAC condition on the blob path --------------------------------------------
# The condition language, as far as the conditions here use it (learn.microsoft.com "Azure role
# assignment condition format and syntax"): ActionMatches, !, AND, OR, parentheses, and
# StringLike, a case-sensitive match in which `*` stands for any run of characters.
_CONDITION_TOKEN = re.compile(
    r"\s*(?:(?P<action>ActionMatches\{'(?P<name>[^']*)'\})"
    r"|(?P<like>@Resource\[[^\]]+\] StringLike '(?P<pattern>[^']*)')"
    r"|(?P<op>AND|OR|!|\(|\)))"
)


def condition_allows(condition: str, action: str, path: str) -> bool:
    tokens, pos = [], 0
    while pos < len(condition.rstrip()):
        match = _CONDITION_TOKEN.match(condition, pos)
        assert match, f"cannot read the condition at {condition[pos : pos + 40]!r}"
        if match["action"]:
            tokens.append(repr(action == match["name"]))
        elif match["like"]:
            pattern = match["pattern"]
            tokens.append(repr(fnmatch.fnmatchcase(path, pattern.replace("[", "[[]"))))
        else:
            tokens.append({"AND": "and", "OR": "or", "!": "not"}.get(match["op"], match["op"]))
        pos = match.end()
    return bool(eval(" ".join(tokens), {"__builtins__": {}}))  # noqa: S307 - only True/False/ops


def diy_blobs(stack: str, project: str = "banknote") -> list[str]:
    """Every blob pulumi's DIY backend writes for one stack (pkg/backend/diy: store.go,
    lock.go, state.go `saveCheckpoint`/`backupStack`/`addToHistory`, stack_tags.go)."""
    return [
        f".pulumi/stacks/{project}/{stack}.json",
        f".pulumi/stacks/{project}/{stack}.json.bak",
        f".pulumi/stacks/{project}/{stack}.json.gz",
        f".pulumi/stacks/{project}/{stack}.pulumi-tags",
        f".pulumi/locks/{project}/{stack}/0b1c2d3e-aaaa-bbbb-cccc-000000000000.json",
        f".pulumi/history/{project}/{stack}/{stack}-1764123456789.history.json",
        f".pulumi/history/{project}/{stack}/{stack}-1764123456789.checkpoint.json",
        f".pulumi/backups/{project}/{stack}/{stack}.1764123456789.json",
    ]


WRITE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
DELETE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete"
READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"


def state_condition(run: ProgramRun, key: str) -> str:
    principal = identity(run, key)["principalId"]
    state_role = role_named(run, "state-blobs").id
    (assignment,) = [
        a for a in assignments_of(run, principal) if a["roleDefinitionId"] == state_role
    ]
    assert assignment["scope"] == run.one(BLOB_CONTAINER).id
    assert assignment["conditionVersion"] == "2.0"
    condition: str = assignment["condition"]
    return condition


@pytest.mark.parametrize(
    ("key", "writable", "not_writable"),
    [
        ("deploy", ["dev"], ["pr-7", "pr-123", "alice", "dev2", "prod"]),
        ("pr", ["pr-7", "pr-123"], ["dev", "alice", "prod", "dev.pr-7"]),
        ("prod", ["prod"], ["dev", "pr-7", "alice", "prod2", "production"]),
    ],
)
def test_each_identity_writes_only_its_own_stacks_state(
    run: ProgramRun, key: str, writable: list[str], not_writable: list[str]
) -> None:
    condition = state_condition(run, key)
    for stack in writable:
        for blob in diy_blobs(stack):
            for action in (WRITE, DELETE):
                assert condition_allows(condition, action, blob), (key, action, blob)
    for stack in not_writable:
        for blob in diy_blobs(stack):
            for action in (WRITE, DELETE):
                assert not condition_allows(condition, action, blob), (key, action, blob)
    # Reading is never restricted: the PR identity previews dev from dev's state.
    for stack in writable + not_writable:
        for blob in diy_blobs(stack):
            assert condition_allows(condition, READ, blob)


def test_only_the_deploy_identity_may_create_the_backend_metadata(run: ProgramRun) -> None:
    # The first `pulumi login` to an empty container writes .pulumi/meta.yaml (diy meta.go
    # `ensurePulumiMeta`): the first deploy of dev, from main (docs/deploy/first-deploy.md).
    assert condition_allows(state_condition(run, "deploy"), WRITE, state_access.META_BLOB)
    assert not condition_allows(state_condition(run, "pr"), WRITE, state_access.META_BLOB)


def test_the_condition_reader_reads_like_azure() -> None:
    condition = state_access.write_condition([".pulumi/stacks/p/pr-*.json*"])
    assert condition_allows(condition, WRITE, ".pulumi/stacks/p/pr-1.json")
    assert not condition_allows(condition, WRITE, ".pulumi/stacks/p/PR-1.json")  # case-sensitive
    assert not condition_allows(condition, WRITE, ".pulumi/stacks/p/dev.json")
    assert condition_allows(condition, READ, ".pulumi/stacks/p/dev.json")


def test_developers_write_their_own_stacks_and_groups_at_subscription_scope(
    bootstrap_stack: BootstrapStack,
) -> None:
    developers = ["aaaaaaaa-1111-2222-3333-444444444444", "bbbbbbbb-1111-2222-3333-444444444444"]
    run = bootstrap_stack(developerPrincipalIds=", ".join(developers))
    assert len(run.of_type(ROLE_ASSIGNMENT)) == 15 + 6 * 2
    for developer in developers:
        grants = assignments_of(run, developer)
        assert arm_write_scopes(run, developer) == {SUBSCRIPTION}
        assert role_grant_scopes(run, developer) == {SUBSCRIPTION}
        state_role = role_named(run, "state-blobs").id
        (state,) = [a for a in grants if a["roleDefinitionId"] == state_role]
        assert state.get("condition") is None
        for assignment in grants:
            assert assignment["principalType"] == "User"  # the SDK's and ARM's default


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
    assert lock["resourceGroupName"] == STATE_GROUP


def test_a_new_key_vault_generation_gives_a_new_vault_name(
    bootstrap_stack: BootstrapStack,
) -> None:
    # Purge protection keeps a deleted vault, and its name, for 90 days, so re-creating the
    # bootstrap under the same name fails until then (learn.microsoft.com "Azure Key Vault
    # soft-delete overview"). keyVaultGeneration gives a fresh name; generation 1 keeps the
    # name every earlier bootstrap had.
    first = bootstrap_stack().one(VAULT).inputs["vaultName"]
    second = bootstrap_stack(keyVaultGeneration="2").one(VAULT).inputs["vaultName"]
    assert first == naming.key_vault_name("banknote-state", SUBSCRIPTION_ID)
    assert second != first
    assert plain(bootstrap_stack(keyVaultGeneration="2").one(VAULT).inputs)["properties"][
        "enablePurgeProtection"
    ]


def test_outputs_are_exactly_the_github_variables_and_not_secret(run: ProgramRun) -> None:
    out = run.exports
    assert set(out) == {
        "AZURE_CLIENT_ID",
        "AZURE_PR_CLIENT_ID",
        "AZURE_PROD_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_SUBSCRIPTION_ID",
        "PULUMI_BACKEND_URL",
        "PULUMI_SECRETS_PROVIDER",
        "AZURE_LOCATION",
    }
    assert run.secret_exports == set()
    assert out["AZURE_PROD_CLIENT_ID"] == identity(run, "prod")["clientId"]
    assert out["AZURE_CLIENT_ID"] == identity(run, "deploy")["clientId"]
    assert out["AZURE_PR_CLIENT_ID"] == identity(run, "pr")["clientId"]
    assert out["AZURE_TENANT_ID"] == TENANT_ID
    assert out["AZURE_SUBSCRIPTION_ID"] == SUBSCRIPTION_ID
    account = run.one(STORAGE_ACCOUNT).inputs["accountName"]
    assert out["PULUMI_BACKEND_URL"] == f"azblob://pulumi-state?storage_account={account}"
    vault = run.one(VAULT).inputs["vaultName"]
    assert out["PULUMI_SECRETS_PROVIDER"] == (
        f"azurekeyvault://{vault}.vault.azure.net/keys/pulumi-secrets"
    )
    assert out["AZURE_LOCATION"] == "westeurope"


def test_the_stacks_deploy_into_the_groups_the_bootstrap_made(run: ProgramRun) -> None:
    # dev's committed config and the PR stacks' config-map in deploy.yml name these groups.
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    assert dev["banknote:resourceGroup"] == DEV_GROUP
    assert (
        f"resourceGroup: {{{{value: {PR_GROUP},"
        in (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    )
    prod = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    assert prod["banknote:resourceGroup"] == PROD_GROUP
    for name in (DEV_GROUP, PR_GROUP, PROD_GROUP):
        group_id(run, name)


def test_every_taggable_resource_is_tagged(run: ProgramRun) -> None:
    for resource in run.of_type(RESOURCE_GROUP) + run.of_type(IDENTITY):
        assert resource.inputs["tags"]["managed-by"] == "pulumi"
    for typ in (STORAGE_ACCOUNT, VAULT, KEY):
        tags = run.one(typ).inputs["tags"]
        assert tags["managed-by"] == "pulumi"
        assert tags["project"] == "banknote-bootstrap"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"githubRepository": ""}, "githubRepository is required"),
        ({"githubRepository": "just-a-name"}, "githubRepository='just-a-name' is invalid"),
        ({"githubBranch": "a..b"}, "githubBranch='a..b' is invalid"),
        ({"location": "West Europe"}, "location='West Europe' is invalid"),
        ({"developerPrincipalIds": "alice"}, "developerPrincipalIds='alice' is invalid"),
        ({"keyVaultGeneration": "0"}, "keyVaultGeneration='0' is invalid"),
        ({"githubProdEnvironment": "dev"}, "githubProdEnvironment='dev' is invalid"),
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
        (IDENTITY, "deploy"),
        (IDENTITY, "pr"),
        (FEDERATED_CREDENTIAL, "deploy-environment-dev"),
        (ROLE_ASSIGNMENT, "deploy-state"),
        (ROLE_ASSIGNMENT, "pr-secrets"),
    ]:
        assert run.urn(typ, name) in lock.dependencies, name


def test_custom_roles_have_stable_guids(bootstrap_stack: BootstrapStack) -> None:
    first = {
        r.name: r.inputs["roleDefinitionId"] for r in bootstrap_stack().of_type(ROLE_DEFINITION)
    }
    again = bootstrap_stack(githubBranch="main").of_type(ROLE_DEFINITION)
    assert first == {r.name: r.inputs["roleDefinitionId"] for r in again}
    assert all(GUID.fullmatch(guid) for guid in first.values())


def test_no_app_stack_can_name_a_bootstrap_group(run: ProgramRun) -> None:
    for group in run.of_type(RESOURCE_GROUP):
        name = group.inputs["resourceGroupName"]
        assert "_" in name  # never in a DNS label, so never in an app stack's rg-<label>
        for stack in ("state", "_state", "dev", "pr", "_pr", "ops", "bootstrap"):
            assert naming.resource_group_name(naming.dns_label("banknote", stack)) != name
