"""The `prod` stack on Azure Container Apps, run whole under Pulumi's mocks: the committed
Pulumi.prod.yaml, each phase of the canary rollout, and the guarantees the issue asks for.

Where each rule comes from is cited next to the test that encodes it; the SDK facts are from
pulumi-azure-native 3.x (pulumi_azure_native/app/container_app.py and _inputs.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from infra import config, containerapp, pinned_image, revisions
from infra.errors import ConfigError
from tests.infra.conftest import Registries
from tests.infra.pulumi_harness import (
    CONTAINER_APP,
    CONTAINER_GROUP,
    DEFAULT_DOMAIN,
    DIAGNOSTIC_SETTING,
    IDENTITY,
    IMAGE,
    LIST_CREDENTIALS,
    MANAGED_ENVIRONMENT,
    MODEL_VERSION,
    REGISTRY,
    ROLE_ASSIGNMENT,
    ROOT,
    SHARED_KEYS,
    WORKSPACE,
    WORKSPACE_KEY,
    ProgramRun,
    is_secret,
    plain,
)

AppStack = Callable[..., ProgramRun]
APP = "banknote-prod"
DOMAIN = DEFAULT_DOMAIN.format(location="westeurope")
STABLE = "banknote-prod--m20261120t101010z-1111111-0a0b0c0d"
DIGEST = "sha256:" + "5" * 64


def prod_image(registries: Registries, build: str) -> str:
    """An image by digest in prod's own registry (a fake ACR the program reads its label from),
    as scripts/rollout.py import-image leaves it there."""
    registry = registries.of_stack("prod")
    labels = {pinned_image.MODEL_VERSION_LABEL: MODEL_VERSION, "build": build}
    return f"{registry.login_server}/banknote-api@{registry.add_image('banknote-api', labels)}"


@pytest.fixture(scope="module")
def image(registries: Registries) -> str:
    return prod_image(registries, "1")


@pytest.fixture
def phase(app_stack: AppStack, image: str) -> Callable[..., ProgramRun]:
    """`phase(**config)`: prod as the rollout runs it, with dev's image imported."""

    def run(**extra: str) -> ProgramRun:
        result = app_stack("prod", image=image, **extra)
        assert result.error is None, result.error
        return result

    return run


def container_app(run: ProgramRun) -> dict[str, Any]:
    return dict(plain(run.one(CONTAINER_APP).inputs))


def traffic(run: ProgramRun) -> list[tuple[str, int, str]]:
    entries = container_app(run)["configuration"]["ingress"]["traffic"]
    for entry in entries:
        # Entries name full revision names, never the "latest revision" shortcut.
        assert entry.get("latestRevision") is False, entry
    return [(e["revisionName"], int(e["weight"]), e["label"]) for e in entries]


def new_revision(run: ProgramRun) -> str:
    return str(run.one(CONTAINER_APP).state["latestRevisionName"])


# -- the committed stack config ---------------------------------------------------------------
def test_pulumi_prod_yaml_selects_container_apps_with_production_values() -> None:
    values = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    raw = {key.removeprefix("banknote:"): str(value) for key, value in values.items()}
    cfg = config.parse(raw, project="banknote", stack="prod", env={})
    assert cfg.platform == "containerapps"
    assert cfg.location == "westeurope"
    assert cfg.resource_group == "rg-banknote_prod"  # the bootstrap's group for prod
    # learn.microsoft.com "Containers in Azure Container Apps": an allowed Consumption pair.
    assert (cfg.cpu, cfg.memory_gb) in config.APPS_CPU_MEMORY
    assert cfg.apps is not None
    assert cfg.apps.min_replicas >= 1  # no cold start
    assert cfg.apps.max_replicas >= 3
    # README: 128 concurrent requests kept p99 < 50 ms on one core; x cpu share x headroom 0.5.
    assert cfg.apps.concurrent_requests == int(128 * cfg.cpu * 0.5)
    assert cfg.apps.canary_weight == 0  # phase 1 gives the canary no traffic
    assert cfg.image is None  # the rollout sets the imported image, never a committed one


def test_the_platform_defaults_to_aci_and_only_containerapps_reads_its_keys() -> None:
    cfg = config.parse({}, project="banknote", stack="dev", env={})
    assert (cfg.platform, cfg.image, cfg.apps) == ("aci", None, None)
    # ACI keeps its own CPU rules; a Container Apps pair is not required there.
    assert config.parse({"cpu": "1.3"}, project="banknote", stack="s", env={}).cpu == 1.3
    apps = config.parse(
        {"platform": "containerapps", "cpu": "0.25", "memoryGb": "0.5"},
        project="banknote",
        stack="s",
        env={},
    )
    assert apps.apps == config.ContainerAppsConfig(
        min_replicas=1,
        max_replicas=3,
        concurrent_requests=10,
        canary_weight=0,
        stable_revision=None,
        rollback=False,
        rollout_id="",
    )
    with pytest.raises(ConfigError, match="platform='kubernetes' is invalid"):
        config.parse({"platform": "kubernetes"}, project="banknote", stack="s", env={})


def test_container_apps_settings_are_validated_before_anything_is_declared(
    app_stack: AppStack,
) -> None:
    for extra, message in (
        ({"cpu": "1", "memoryGb": "1.5"}, "Azure Container Apps (Consumption) takes one of"),
        ({"registryAuth": "admin"}, "pulls with the managed identity only"),
        ({"minReplicas": "4", "maxReplicas": "3"}, "must not be below minReplicas"),
        ({"canaryWeight": "101"}, "canaryWeight='101' is invalid"),
        ({"stableRevision": "banknote-prod"}, "stableRevision='banknote-prod' is invalid"),
        ({"rollback": "maybe"}, "rollback='maybe' is invalid"),
        ({"image": "banknote-api:latest"}, "it names no digest"),
        ({"registryOnly": "yes"}, "registryOnly='yes' is invalid: expected true or false"),
    ):
        run = app_stack("prod", **extra)
        assert isinstance(run.error, ConfigError), extra
        assert message in str(run.error), (extra, str(run.error))
        assert run.resources == [], extra


# -- what the stack declares ---------------------------------------------------------------------
def test_prod_is_a_complete_container_apps_stack_that_builds_nothing(
    phase: Callable[..., ProgramRun],
) -> None:
    run = phase(stableRevision=STABLE)
    assert sorted(r.type for r in run.custom()) == sorted(
        [
            REGISTRY,
            IDENTITY,
            ROLE_ASSIGNMENT,
            WORKSPACE,
            MANAGED_ENVIRONMENT,
            DIAGNOSTIC_SETTING,
            CONTAINER_APP,
        ]
    )
    assert run.of_type(IMAGE) == []  # dev's image, imported by digest: no rebuild
    assert run.of_type(CONTAINER_GROUP) == []
    for resource in run.custom():
        if "resourceGroupName" in resource.inputs:
            assert resource.inputs["resourceGroupName"] == "rg-banknote_prod", resource.name


def test_the_app_runs_the_given_image_by_digest(
    phase: Callable[..., ProgramRun], image: str
) -> None:
    run = phase(stableRevision=STABLE)
    (container,) = container_app(run)["template"]["containers"]
    assert container["image"] == image
    assert re.fullmatch(r"[a-z0-9]+\.azurecr\.io/banknote-api@sha256:[0-9a-f]{64}", image)
    assert run.exports["image"] == image


def test_external_https_ingress_to_port_8000(phase: Callable[..., ProgramRun]) -> None:
    ingress = container_app(phase(stableRevision=STABLE))["configuration"]["ingress"]
    assert ingress["external"] is True
    assert ingress["targetPort"] == 8000
    # allowInsecure false: HTTP is redirected to HTTPS (SDK IngressArgs.allow_insecure).
    assert ingress["allowInsecure"] is False


def test_pulls_with_the_user_assigned_identity_and_no_secret_anywhere(
    phase: Callable[..., ProgramRun],
) -> None:
    run = phase(stableRevision=STABLE)
    app = container_app(run)
    identity_id = run.one(IDENTITY).id
    assert app["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity_id]}
    login_server = run.one(REGISTRY).state["loginServer"]
    assert app["configuration"]["registries"] == [{"server": login_server, "identity": identity_id}]
    assert "secrets" not in app["configuration"]
    # No value of the app is a Pulumi secret, no registry password or workspace key was read.
    raw = run.one(CONTAINER_APP).inputs
    assert not _contains_secret(raw)
    assert not re.search(r"password|secretref|sharedkey", str(raw), re.IGNORECASE)
    invoked = [token for token, _ in run.calls]
    assert LIST_CREDENTIALS not in invoked
    assert SHARED_KEYS not in invoked
    assert run.one(REGISTRY).inputs["adminUserEnabled"] is False
    assert run.secret_exports == set()


def _contains_secret(value: Any) -> bool:
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


def test_acr_pull_is_granted_before_the_first_pull(phase: Callable[..., ProgramRun]) -> None:
    # learn.microsoft.com "Azure Container Apps image pull with managed identity": the identity
    # needs AcrPull before the revision pulls; the app waits for the grant and retries a pull
    # that fails while the grant propagates, as the container group does.
    run = phase(stableRevision=STABLE)
    assert run.depends_on(CONTAINER_APP, "app", ROLE_ASSIGNMENT, "acr-pull")
    assert run.graph[run.urn(CONTAINER_APP, "app")].error_hooks == ["retry-revision-pull"]
    grant = run.one(ROLE_ASSIGNMENT).inputs
    assert grant["principalId"] == run.one(IDENTITY).state["principalId"]
    assert grant["scope"] == run.one(REGISTRY).id
    assert grant["roleDefinitionId"].endswith("7f951dda-4ed3-4680-a7ca-43fe172d538d")


def test_probes_on_health_and_ready(phase: Callable[..., ProgramRun]) -> None:
    (container,) = container_app(phase(stableRevision=STABLE))["template"]["containers"]
    probes = {p["type"]: p["httpGet"] for p in container["probes"]}
    assert probes == {
        "Liveness": {"path": "/health", "port": 8000, "scheme": "HTTP"},
        "Readiness": {"path": "/ready", "port": 8000, "scheme": "HTTP"},
    }
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"HOST": "0.0.0.0", "PORT": "8000", "WORKERS": "1", "LOG_LEVEL": "info"}


def test_cpu_memory_and_the_http_scale_rule(phase: Callable[..., ProgramRun]) -> None:
    template = container_app(phase(stableRevision=STABLE))["template"]
    (container,) = template["containers"]
    assert container["resources"] == {"cpu": 0.5, "memory": "1.0Gi"}
    # learn.microsoft.com "Set scaling rules in Azure Container Apps": the HTTP rule's metadata
    # key is concurrentRequests, a string.
    assert template["scale"] == {
        "minReplicas": 2,
        "maxReplicas": 10,
        "rules": [{"name": "http-concurrency", "http": {"metadata": {"concurrentRequests": "32"}}}],
    }


def test_multiple_revisions_a_fixed_name_and_the_current_environment_field(
    phase: Callable[..., ProgramRun],
) -> None:
    run = phase(stableRevision=STABLE)
    app = container_app(run)
    assert app["containerAppName"] == APP
    assert app["configuration"]["activeRevisionsMode"] == "Multiple"
    assert app["configuration"]["maxInactiveRevisions"] == containerapp.MAX_INACTIVE_REVISIONS
    # The SDK documents managed_environment_id as deprecated; environment_id is the field.
    assert app["environmentId"] == run.one(MANAGED_ENVIRONMENT).id
    assert "managedEnvironmentId" not in app
    assert run.exports["app_name"] == APP


def test_the_environment_logs_to_the_workspace_without_a_key(
    phase: Callable[..., ProgramRun],
) -> None:
    # learn.microsoft.com "Log storage and monitoring options in Azure Container Apps":
    # destination azure-monitor plus a diagnostic setting (categories ContainerAppConsoleLogs
    # and ContainerAppSystemLogs); log-analytics would need the workspace's shared key.
    run = phase(stableRevision=STABLE)
    environment = plain(run.one(MANAGED_ENVIRONMENT).inputs)
    assert environment["appLogsConfiguration"] == {"destination": "azure-monitor"}
    setting = plain(run.one(DIAGNOSTIC_SETTING).inputs)
    assert setting["resourceUri"] == run.one(MANAGED_ENVIRONMENT).id
    assert setting["workspaceId"] == run.one(WORKSPACE).id
    assert setting["logs"] == [
        {"category": "ContainerAppConsoleLogs", "enabled": True},
        {"category": "ContainerAppSystemLogs", "enabled": True},
    ]
    assert run.depends_on(CONTAINER_APP, "app", DIAGNOSTIC_SETTING, "environment-logs")
    workspace = run.one(WORKSPACE).inputs
    assert workspace["sku"] == {"name": "PerGB2018"}
    assert workspace["retentionInDays"] == 30


# -- the revision's name ---------------------------------------------------------------------------
def test_revision_suffix_follows_azures_rules_and_comes_from_model_and_digest(
    phase: Callable[..., ProgramRun],
) -> None:
    run = phase(stableRevision=STABLE)
    suffix = container_app(run)["template"]["revisionSuffix"]
    assert new_revision(run) == f"{APP}--{suffix}"
    # Lower-case letters, digits and '-', a letter first, no '--', at most 54 characters with
    # the app name.
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", suffix)
    assert "--" not in suffix
    assert len(APP) + len(suffix) <= 54
    assert suffix.startswith("m" + MODEL_VERSION.lower()[:16])  # m20261126t041500z...
    assert run.exports["latest_revision"] == new_revision(run)


def test_the_suffix_changes_with_what_runs_and_only_then(
    phase: Callable[..., ProgramRun], app_stack: AppStack, registries: Registries
) -> None:
    first = new_revision(phase(stableRevision=STABLE))
    # Phase 2 changes traffic only: the same template, the same revision, no new one.
    assert new_revision(phase(stableRevision=STABLE, canaryWeight="100")) == first
    assert new_revision(phase(stableRevision=STABLE, rollback="true")) == first
    other_image = prod_image(registries, "2")
    changed = [
        new_revision(app_stack("prod", image=other_image, stableRevision=STABLE)),
        new_revision(phase(stableRevision=STABLE, minReplicas="3")),
        new_revision(phase(stableRevision=STABLE, logLevel="debug")),
        # A retried rollout of the same image: Azure ignores a suffix it has already seen
        # (microsoft/azure-container-apps#650), so the rollout id makes a new one.
        new_revision(phase(stableRevision=STABLE, rolloutId="1234-2")),
    ]
    assert first not in changed
    assert len(set(changed)) == len(changed)


@pytest.mark.parametrize("label", ["banknote-prod", "b" * 63, "notes-" + "x" * 40])
def test_app_names_and_suffixes_stay_within_azures_limits(label: str) -> None:
    name = revisions.app_name(label)
    assert 2 <= len(name) <= 32
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", name)
    assert "--" not in name
    suffix = revisions.suffix(name, "20261126T041500Z-3856aec-802f23", DIGEST, {"cpu": 1})
    assert len(name) + len(suffix) <= revisions.REVISION_NAME_MAX
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", suffix)
    assert "--" not in suffix


# -- the traffic split, phase by phase -------------------------------------------------------------
def test_first_create_names_the_new_revision_at_100(phase: Callable[..., ProgramRun]) -> None:
    # No revision serves yet. A named revision <app>--<suffix> is what the service accepts for
    # the revision the same request creates (hashicorp/terraform-provider-azurerm#27396, which
    # relaxed #24042 after the service team confirmed it); latestRevision stays false.
    run = phase()
    new = new_revision(run)
    assert traffic(run) == [(new, 100, "stable")]
    assert run.exports["stable_revision"] == new
    assert run.exports["canary_url"] == ""
    assert run.exports["url"] == f"https://{APP}.{DOMAIN}/"


def test_phase_1_adds_the_canary_at_0_percent_with_its_label(
    phase: Callable[..., ProgramRun],
) -> None:
    run = phase(stableRevision=STABLE)
    new = new_revision(run)
    assert traffic(run) == [(STABLE, 100, "stable"), (new, 0, "canary")]
    # The label's URL reaches the canary although it has no traffic (learn.microsoft.com
    # "Blue-Green Deployment in Azure Container Apps": https://<app>---<label>.<domain>).
    assert run.exports["canary_url"] == f"https://{APP}---canary.{DOMAIN}/"
    assert run.exports["stable_revision"] == STABLE  # production still serves the old one
    assert run.exports["url"] == f"https://{APP}.{DOMAIN}/"
    assert run.exports["fqdn"] == f"{APP}.{DOMAIN}"


def test_phase_2_shifts_all_traffic_to_the_new_revision(phase: Callable[..., ProgramRun]) -> None:
    run = phase(stableRevision=STABLE, canaryWeight="100")
    new = new_revision(run)
    assert traffic(run) == [(new, 100, "stable")]
    assert run.exports["stable_revision"] == new
    assert run.exports["canary_url"] == ""


def test_a_person_can_run_10_percent_first(phase: Callable[..., ProgramRun]) -> None:
    run = phase(stableRevision=STABLE, canaryWeight="10")
    assert traffic(run) == [(STABLE, 90, "stable"), (new_revision(run), 10, "canary")]


def test_rollback_leaves_the_canary_without_traffic_or_label(
    phase: Callable[..., ProgramRun],
) -> None:
    run = phase(stableRevision=STABLE, canaryWeight="10", rollback="true")
    assert traffic(run) == [(STABLE, 100, "stable")]
    assert new_revision(run) not in str(container_app(run)["configuration"])
    assert run.exports["stable_revision"] == STABLE
    assert run.exports["canary_url"] == ""


def test_outputs_of_the_container_apps_stack(phase: Callable[..., ProgramRun]) -> None:
    out = phase(stableRevision=STABLE).exports
    assert set(out) == {
        "url",
        "docs_url",
        "fqdn",
        "image",
        "registry",
        "resource_group",
        "model_version",
        "app_name",
        "latest_revision",
        "stable_revision",
        "canary_url",
    }
    assert out["docs_url"] == f"https://{APP}.{DOMAIN}/docs"
    assert out["model_version"] == MODEL_VERSION


# -- Azure Container Instances keeps its logs too -------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "pr-123"])
def test_the_container_group_sends_its_logs_to_the_workspace(
    app_stack: AppStack, stack: str
) -> None:
    # learn.microsoft.com "Container group and instance logging with Azure Monitor logs": the
    # group's diagnostics take the workspace id and key; logType ContainerInstanceLogs.
    run = app_stack(stack)
    workspace = run.one(WORKSPACE)
    raw = run.one(CONTAINER_GROUP).inputs["diagnostics"]
    logs = plain(raw)["logAnalytics"]
    assert logs == {
        "workspaceId": workspace.state["customerId"],
        "workspaceKey": WORKSPACE_KEY,
        "workspaceResourceId": workspace.id,
        "logType": "ContainerInstanceLogs",
    }
    # The key is read from Azure at deploy time and stays a secret in the state.
    assert (
        is_secret(raw)
        or is_secret(raw["logAnalytics"])
        or is_secret(raw["logAnalytics"]["workspaceKey"])
    )
    assert WORKSPACE_KEY not in str(run.exports)
    assert workspace.inputs["workspaceName"] == f"log-banknote-{stack}"
