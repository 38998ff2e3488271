"""The app stack program, run whole under Pulumi's mocks for `dev`, `pr-123` and variants."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra import acr_token, naming, paths, roles
from tests.infra.pulumi_harness import (
    ACR_REFRESH_TOKEN,
    ADMIN_PASSWORD,
    ADMIN_USER,
    CONTAINER_GROUP,
    IDENTITY,
    IMAGE,
    LIST_CREDENTIALS,
    MODEL_NAME,
    MODEL_VERSION,
    REGISTRY,
    RESOURCE_GROUP,
    ROLE_ASSIGNMENT,
    ROOT,
    SUBSCRIPTION_ID,
    TENANT_ID,
    WORKSPACE,
    ProgramRun,
    is_secret,
    plain,
)

AppStack = Callable[..., ProgramRun]
# dev and pr-123 run with the config CI gives them (a group the bootstrap made); alice is a
# developer's own stack, which creates its group.
STACKS = ["dev", "pr-123", "alice"]
GROUP_OF_STACK = {
    "dev": "rg-banknote_dev",
    "pr-123": "rg-banknote_pr",
    "alice": "rg-banknote-alice",
}
# The Log Analytics workspace keeps the container's output after a restart (issue 10).
PROVIDER_TYPES = [REGISTRY, IDENTITY, ROLE_ASSIGNMENT, IMAGE, CONTAINER_GROUP, WORKSPACE]


def container(run: ProgramRun) -> dict[str, object]:
    """The single container's inputs."""
    containers = plain(run.one(CONTAINER_GROUP).inputs)["containers"]
    assert len(containers) == 1
    return dict(containers[0])


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def run(stack: str, app_stack: AppStack) -> ProgramRun:
    """The default-config run of each stack."""
    result = app_stack(stack)
    assert result.error is None, result.error
    return result


def test_every_resource_type_exactly_once(stack: str, run: ProgramRun) -> None:
    # CI's stacks deploy into a group the bootstrap made; only a developer's creates one.
    types = PROVIDER_TYPES if stack in ("dev", "pr-123") else [RESOURCE_GROUP, *PROVIDER_TYPES]
    for typ in types:
        run.one(typ)
    assert sorted(r.type for r in run.custom()) == sorted(types)


def test_every_resource_is_in_the_stacks_group(stack: str, run: ProgramRun) -> None:
    group = GROUP_OF_STACK[stack]
    for resource in run.custom():
        if resource.type == RESOURCE_GROUP:
            assert resource.inputs["resourceGroupName"] == group
        elif resource.type == ROLE_ASSIGNMENT:  # scoped to the registry, which is in the group
            assert resource.inputs["scope"] == run.one(REGISTRY).id
        elif resource.type != IMAGE:
            assert resource.inputs["resourceGroupName"] == group, resource.name
    assert run.exports["resource_group"] == group


def test_registry_admin_user_disabled(run: ProgramRun) -> None:
    registry = run.one(REGISTRY).inputs
    assert registry["adminUserEnabled"] is False
    # Premium: Microsoft's documented prerequisite for ACI's managed-identity pulls
    # (learn.microsoft.com "Deploy to Azure Container Instances from Azure Container Registry
    # using a managed identity", Prerequisites: "You need a premium SKU Azure container
    # registry").
    assert registry["sku"] == {"name": "Premium"}
    assert 5 <= len(registry["registryName"]) <= 50
    assert registry["registryName"].isalnum()


def test_acr_pull_is_the_identitys_on_the_registry(run: ProgramRun) -> None:
    assignment = run.one(ROLE_ASSIGNMENT).inputs
    assert assignment["principalId"] == run.one(IDENTITY).state["principalId"]
    assert assignment["scope"] == run.one(REGISTRY).id
    assert assignment["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/"
        "7f951dda-4ed3-4680-a7ca-43fe172d538d"
    )
    assert assignment["principalType"] == "ServicePrincipal"


def test_container_group_waits_for_acr_pull_and_retries_pulls(run: ProgramRun) -> None:
    assert run.depends_on(CONTAINER_GROUP, "group", ROLE_ASSIGNMENT, "acr-pull")
    group = run.graph[run.urn(CONTAINER_GROUP, "group")]
    assert group.error_hooks == ["retry-image-pull"]


def test_image_built_from_repo_dockerfile_for_amd64(run: ProgramRun) -> None:
    # The program ran in infra/, as under the CLI, and so does the docker provider: a relative
    # context or Dockerfile would resolve there (pulumi-docker #572 and #844: "could not open
    # dockerfile at relative path Dockerfile"). Absolute paths to the repository root do not.
    image = plain(run.one(IMAGE).inputs)
    login_server = run.one(REGISTRY).state["loginServer"]
    assert image["imageName"] == f"{login_server}/banknote-api:{MODEL_VERSION}"
    assert image["build"]["context"] == str(ROOT)
    assert image["build"]["dockerfile"] == str(ROOT / "Dockerfile")
    assert (ROOT / "Dockerfile").is_file()
    assert paths.PROJECT_ROOT == ROOT
    assert image["build"]["platform"] == "linux/amd64"
    # The image's labels carry the model's name and version, both read from the artifact.
    assert image["build"]["args"] == {
        "REVISION": "unknown",
        "MODEL_VERSION": MODEL_VERSION,
        "MODEL_NAME": MODEL_NAME,
    }


def test_image_pushed_with_deployers_token_not_a_stored_password(run: ProgramRun) -> None:
    registry = run.one(IMAGE).inputs["registry"]
    login_server = run.one(REGISTRY).state["loginServer"]
    assert plain(registry) == {
        "server": login_server,
        "username": acr_token.TOKEN_USER,
        "password": ACR_REFRESH_TOKEN,
    }
    assert is_secret(registry) or is_secret(registry["password"])
    assert run.token_exchanges == [
        {
            "url": f"https://{login_server}/oauth2/exchange",
            "grant_type": "access_token",
            "service": login_server,
            "tenant": TENANT_ID,
            "access_token": "entra-access-token",
        }
    ]


def test_container_runs_the_pushed_image_by_digest(run: ProgramRun) -> None:
    digest = run.one(IMAGE).state["repoDigest"]
    login_server = run.one(REGISTRY).state["loginServer"]
    assert container(run)["image"] == digest
    assert digest.startswith(f"{login_server}/banknote-api@sha256:")
    assert len(digest.rsplit(":", 1)[1]) == 64


def test_only_port_8000_is_exposed(run: ProgramRun) -> None:
    group = plain(run.one(CONTAINER_GROUP).inputs)
    assert group["ipAddress"]["type"] == "Public"
    assert group["ipAddress"]["ports"] == [{"port": 8000, "protocol": "TCP"}]
    assert container(run)["ports"] == [{"port": 8000, "protocol": "TCP"}]


def test_probes_hit_health_and_ready_on_8000(run: ProgramRun) -> None:
    app = container(run)
    liveness = app["livenessProbe"]
    readiness = app["readinessProbe"]
    assert isinstance(liveness, dict)
    assert isinstance(readiness, dict)
    assert liveness["httpGet"] == {"path": "/health", "port": 8000, "scheme": "http"}
    assert readiness["httpGet"] == {"path": "/ready", "port": 8000, "scheme": "http"}


def test_linux_restart_always_with_the_identity_in_both_places(run: ProgramRun) -> None:
    group = plain(run.one(CONTAINER_GROUP).inputs)
    identity_id = run.one(IDENTITY).id
    assert group["osType"] == "Linux"
    assert group["restartPolicy"] == "Always"
    assert group["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity_id]}
    login_server = run.one(REGISTRY).state["loginServer"]
    assert group["imageRegistryCredentials"] == [{"server": login_server, "identity": identity_id}]
    assert LIST_CREDENTIALS not in [token for token, _ in run.calls]


def test_default_cpu_memory_and_environment(app_stack: AppStack) -> None:
    dev = container(app_stack("dev"))
    assert dev["resources"] == {"requests": {"cpu": 1.0, "memoryInGB": 1.5}}
    env = {e["name"]: e["value"] for e in dev["environmentVariables"]}  # type: ignore[attr-defined]
    assert env == {"HOST": "0.0.0.0", "PORT": "8000", "WORKERS": "1", "LOG_LEVEL": "info"}


def test_cpu_memory_workers_log_level_come_from_config(app_stack: AppStack) -> None:
    run = app_stack("pr-123", cpu="2.5", memoryGb="3.5", workers="3", logLevel="debug")
    app = container(run)
    assert app["resources"] == {"requests": {"cpu": 2.5, "memoryInGB": 3.5}}
    env = {e["name"]: e["value"] for e in app["environmentVariables"]}  # type: ignore[attr-defined]
    assert env["WORKERS"] == "3"
    assert env["LOG_LEVEL"] == "debug"


def test_dns_labels_valid_stable_and_different_per_stack(app_stack: AppStack) -> None:
    labels = {}
    for stack in STACKS:
        ip = plain(app_stack(stack).one(CONTAINER_GROUP).inputs)["ipAddress"]
        assert naming.DNS_LABEL.match(ip["dnsNameLabel"])
        assert ip["autoGeneratedDomainNameLabelScope"] == "TenantReuse"
        labels[stack] = ip["dnsNameLabel"]
    assert labels == {"dev": "banknote-dev", "pr-123": "banknote-pr-123", "alice": "banknote-alice"}
    # Stable: a second run of the same stack derives the same label.
    rerun = plain(app_stack("dev", workers="1").one(CONTAINER_GROUP).inputs)
    assert rerun["ipAddress"]["dnsNameLabel"] == "banknote-dev"


def test_dns_prefix_and_reuse_scope_from_config(app_stack: AppStack) -> None:
    run = app_stack("dev", dnsLabelPrefix="notes", dnsReuseScope="Unsecure")
    ip = plain(run.one(CONTAINER_GROUP).inputs)["ipAddress"]
    assert ip["dnsNameLabel"] == "notes-dev"
    assert ip["autoGeneratedDomainNameLabelScope"] == "Unsecure"


def test_every_taggable_resource_is_tagged(stack: str, run: ProgramRun) -> None:
    for resource in run.custom():
        if resource.type == ROLE_ASSIGNMENT:  # Azure role assignments take no tags
            continue
        if resource.type == IMAGE:  # not an Azure resource
            continue
        assert resource.inputs["tags"] == {
            "project": "banknote",
            "stack": stack,
            "managed-by": "pulumi",
        }, resource.name


def test_git_commit_tags_and_labels_when_known(app_stack: AppStack) -> None:
    commit = "3856aec" + "0" * 33
    run = app_stack("dev", gitCommit=commit)
    assert run.one(CONTAINER_GROUP).inputs["tags"]["git-commit"] == commit
    assert run.one(REGISTRY).inputs["tags"]["git-commit"] == commit
    assert plain(run.one(IMAGE).inputs)["build"]["args"]["REVISION"] == commit


def test_base_image_build_arg_only_when_configured(app_stack: AppStack) -> None:
    run = app_stack("dev", baseImage="local/python:3.11")
    assert plain(run.one(IMAGE).inputs)["build"]["args"]["BASE_IMAGE"] == "local/python:3.11"


def test_outputs_are_well_formed(run: ProgramRun) -> None:
    out = run.exports
    assert set(out) == {
        "url",
        "docs_url",
        "fqdn",
        "image",
        "registry",
        "resource_group",
        "model_version",
    }
    group = run.one(CONTAINER_GROUP)
    assert out["fqdn"] == group.state["ipAddress"]["fqdn"]
    assert out["fqdn"].endswith(".westeurope.azurecontainer.io")
    assert out["url"] == f"http://{out['fqdn']}:8000/"
    assert out["docs_url"] == f"http://{out['fqdn']}:8000/docs"
    assert out["image"] == run.one(IMAGE).state["repoDigest"]
    assert out["registry"] == run.one(REGISTRY).state["loginServer"]
    assert out["model_version"] == MODEL_VERSION
    assert run.secret_exports == set()


def test_location_from_config_reaches_every_resource(app_stack: AppStack) -> None:
    run = app_stack("pr-123", location="northeurope")
    for resource in run.custom():
        if "location" in resource.inputs:
            assert resource.inputs["location"] == "northeurope", resource.name
    assert run.exports["fqdn"].endswith(".northeurope.azurecontainer.io")


def test_registry_auth_admin_switches_credentials_and_nothing_else(app_stack: AppStack) -> None:
    identity_run = app_stack("dev")
    admin_run = app_stack("dev", registryAuth="admin")

    def by_key(run: ProgramRun) -> dict[tuple[str, str], dict[str, object]]:
        return {(r.type, r.name): plain(r.inputs) for r in run.resources}

    before, after = by_key(identity_run), by_key(admin_run)
    assert before.keys() == after.keys()
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {(REGISTRY, "registry"), (CONTAINER_GROUP, "group")}

    registry_before, registry_after = before[(REGISTRY, "registry")], after[(REGISTRY, "registry")]
    assert registry_after == {**registry_before, "adminUserEnabled": True}

    group_before, group_after = (
        before[(CONTAINER_GROUP, "group")],
        after[(CONTAINER_GROUP, "group")],
    )
    login_server = admin_run.one(REGISTRY).state["loginServer"]
    assert group_after["imageRegistryCredentials"] == [
        {"server": login_server, "username": ADMIN_USER, "password": ADMIN_PASSWORD}
    ]
    assert {**group_after, "imageRegistryCredentials": None} == {
        **group_before,
        "imageRegistryCredentials": None,
    }
    # The admin password is read from Azure at deploy time and stays a secret.
    assert is_secret(admin_run.one(CONTAINER_GROUP).inputs["imageRegistryCredentials"])
    assert LIST_CREDENTIALS in [token for token, _ in admin_run.calls]
    assert ADMIN_PASSWORD not in str(admin_run.exports)


def test_no_builtin_role_broader_than_acr_pull(run: ProgramRun) -> None:
    granted = {r.inputs["roleDefinitionId"].rsplit("/", 1)[1] for r in run.of_type(ROLE_ASSIGNMENT)}
    assert granted == {roles.ACR_PULL}


def test_stacks_do_not_share_names(app_stack: AppStack) -> None:
    # Every pr-<n> shares rg-banknote_pr, so no two stacks may name anything alike.
    runs = [app_stack(s) for s in ("dev", "pr-123", "pr-124", "alice")]
    for typ in (REGISTRY, IDENTITY, CONTAINER_GROUP):
        names = [r.one(typ).state["name"] for r in runs]
        assert len(set(names)) == len(names), (typ, names)


def test_a_ci_stack_never_declares_its_group(app_stack: AppStack) -> None:
    # Declared, `pulumi destroy` of the stack would delete the group, which the bootstrap
    # owns and every pr-<n> shares.
    for stack in ("dev", "pr-123"):
        assert app_stack(stack).of_type(RESOURCE_GROUP) == []


def test_a_basic_registry_with_identity_pulls_is_warned_about(
    app_stack: AppStack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"):
        run = app_stack("alice", registrySku="Basic", dnsLabelPrefix="warned")
    assert run.error is None
    assert "outside Microsoft's documented prerequisites" in caplog.text
