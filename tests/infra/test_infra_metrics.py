"""Monitoring under Pulumi's mocks (infra/managed_prometheus.py, infra/shipper.py): prod declares
the Azure Monitor workspace, its own data collection endpoint and rule, the publisher role for the
app's identity, the rule groups made from monitoring/alerts.yml and the dashboard, and runs a
shipper next to every replica that pulls by identity and needs no secret.

The real tool's behaviour each assertion encodes is cited next to it (or in the module it tests).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from infra import alert_rules, config, pinned_image, promql, roles, shipper, workbook
from infra.errors import ConfigError
from tests.infra.conftest import Registries
from tests.infra.pulumi_harness import (
    ACTION_GROUP,
    CACHE_RULE,
    COLLECTION_ENDPOINT,
    COLLECTION_RULE,
    CONTAINER_APP,
    CONTAINER_GROUP,
    IDENTITY,
    MODEL_VERSION,
    MONITOR_WORKSPACE,
    MONITORING_TYPES,
    REGISTRY,
    ROLE_ASSIGNMENT,
    RULE_GROUP,
    WORKBOOK,
    ProgramRun,
    is_secret,
    plain,
)

AppStack = Callable[..., ProgramRun]
STABLE = "banknote-prod--m20261120t101010z-1111111-0a0b0c0d"
GROUP = "rg-banknote_prod"


@pytest.fixture(scope="module")
def image(registries: Registries) -> str:
    """An image by digest in prod's own registry, as scripts/rollout.py import-image leaves it."""
    registry = registries.of_stack("prod")
    labels = {pinned_image.MODEL_VERSION_LABEL: MODEL_VERSION}
    return f"{registry.login_server}/banknote-api@{registry.add_image('banknote-api', labels)}"


@pytest.fixture
def prod(app_stack: AppStack, image: str) -> Callable[..., ProgramRun]:
    def run(**extra: str) -> ProgramRun:
        result = app_stack("prod", image=image, **extra)
        assert result.error is None, result.error
        return result

    return run


def by_name(run: ProgramRun, typ: str, name: str) -> Any:
    (found,) = [r for r in run.of_type(typ) if r.name == name]
    return found


def containers(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in plain(run.one(CONTAINER_APP).inputs)["template"]["containers"]}


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {
        e["name"]: e["value"] for e in container.get("env") or container["environmentVariables"]
    }


# -- where the metrics go ----------------------------------------------------------------------
def test_prod_declares_the_workspace_and_its_ingestion_in_its_own_group(
    prod: Callable[..., ProgramRun],
) -> None:
    run = prod()
    for typ in (MONITOR_WORKSPACE, COLLECTION_ENDPOINT, COLLECTION_RULE, CACHE_RULE, WORKBOOK):
        resource = run.one(typ)
        assert resource.inputs["resourceGroupName"] == GROUP, typ
    assert run.of_type(ACTION_GROUP) == []  # no receiver configured
    assert len(run.of_type(RULE_GROUP)) == len(alert_rules.load())
    workspace = run.one(MONITOR_WORKSPACE)
    assert workspace.inputs["azureMonitorWorkspaceName"] == "amw-banknote-prod"
    assert workspace.inputs["location"] == "westeurope"


def test_the_data_collection_rule_forwards_prometheus_metrics_to_the_workspace(
    prod: Callable[..., ProgramRun],
) -> None:
    # The shape Microsoft deploys for Prometheus remote write (Azure/prometheus-collector
    # AddonArmTemplate/FullAzureMonitorMetricsProfile.json): DCE and DCR of kind Linux, a
    # prometheusForwarder source of the Microsoft-PrometheusMetrics stream, a monitoringAccounts
    # destination naming the workspace, and a data flow between the two.
    run = prod()
    endpoint = run.one(COLLECTION_ENDPOINT)
    rule = plain(run.one(COLLECTION_RULE).inputs)
    assert endpoint.inputs["kind"] == "Linux"
    assert rule["kind"] == "Linux"
    assert rule["dataCollectionEndpointId"] == endpoint.id
    (source,) = rule["dataSources"]["prometheusForwarder"]
    assert source["streams"] == ["Microsoft-PrometheusMetrics"]
    (destination,) = rule["destinations"]["monitoringAccounts"]
    assert destination["accountResourceId"] == run.one(MONITOR_WORKSPACE).id
    assert rule["dataFlows"] == [
        {"streams": ["Microsoft-PrometheusMetrics"], "destinations": [destination["name"]]}
    ]


def test_the_apps_identity_may_publish_to_that_rule_and_nothing_more(
    prod: Callable[..., ProgramRun],
) -> None:
    run = prod()
    publisher = by_name(run, ROLE_ASSIGNMENT, "metrics-publisher").inputs
    identity = run.one(IDENTITY)
    assert publisher["principalId"] == identity.state["principalId"]
    assert publisher["principalType"] == "ServicePrincipal"
    assert publisher["roleDefinitionId"].endswith("/" + roles.MONITORING_METRICS_PUBLISHER)
    assert publisher["scope"] == run.one(COLLECTION_RULE).id  # the rule, not the group
    granted = {r.inputs["roleDefinitionId"].rsplit("/", 1)[1] for r in run.of_type(ROLE_ASSIGNMENT)}
    assert granted == set(roles.STACK_ROLES)


def test_the_outputs_name_the_workspace_and_its_query_endpoint(
    prod: Callable[..., ProgramRun],
) -> None:
    run = prod()
    workspace = run.one(MONITOR_WORKSPACE)
    assert run.exports["monitor_workspace_id"] == workspace.id
    endpoint = workspace.state["metrics"]["prometheusQueryEndpoint"]
    assert run.exports["prometheus_query_endpoint"] == endpoint
    assert re.fullmatch(
        r"https://[a-z0-9-]+\.westeurope\.prometheus\.monitor\.azure\.com", endpoint
    )
    assert run.exports["dashboard_id"] == run.one(WORKBOOK).id
    assert run.secret_exports == set()


# -- the alert rules ---------------------------------------------------------------------------
def test_the_rule_groups_are_the_committed_rule_file(prod: Callable[..., ProgramRun]) -> None:
    run = prod()
    workspace = run.one(MONITOR_WORKSPACE)
    committed = yaml.safe_load((alert_rules.RULE_FILE).read_text(encoding="utf-8"))["groups"]
    declared = {g.inputs["ruleGroupName"]: plain(g.inputs) for g in run.of_type(RULE_GROUP)}
    assert set(declared) == {f"banknote-prod-{g['name']}" for g in committed}
    for group in committed:
        azure = declared[f"banknote-prod-{group['name']}"]
        assert azure["scopes"] == [workspace.id]
        assert azure["interval"] == "PT1M"
        assert azure["enabled"] is True
        assert azure["location"] == "westeurope"
        assert len(azure["rules"]) == len(group["rules"])
        for rule, declared_rule in zip(group["rules"], azure["rules"], strict=True):
            assert declared_rule["alert"] == rule["alert"]
            assert declared_rule["expression"] == rule["expr"]  # byte for byte: what promtool ran
            assert declared_rule["for"] == alert_rules.iso_duration(rule["for"])
            assert declared_rule["labels"] == rule["labels"]
            assert declared_rule["annotations"] == rule["annotations"]
            assert (
                declared_rule["severity"]
                == {"critical": 1, "warning": 2}[rule["labels"]["severity"]]
            )
            assert declared_rule["resolveConfiguration"] == {
                "autoResolved": True,
                "timeToResolve": "PT10M",
            }
            assert "actions" not in declared_rule


def test_alerts_reach_an_email_and_a_secret_webhook_when_configured(
    prod: Callable[..., ProgramRun],
) -> None:
    hook = "https://hooks.example.com/services/T000/B000/xyz"
    run = prod(alertEmail="oncall@example.com", alertWebhook=hook)
    group = run.one(ACTION_GROUP)
    inputs = plain(group.inputs)
    assert inputs["location"] == "Global"
    assert inputs["emailReceivers"] == [
        {"name": "email", "emailAddress": "oncall@example.com", "useCommonAlertSchema": True}
    ]
    (webhook,) = inputs["webhookReceivers"]
    assert webhook["serviceUri"] == hook
    # The secret marks the receivers as a whole (a secret input taints what holds it).
    assert is_secret(group.inputs["webhookReceivers"])
    assert not is_secret(group.inputs["emailReceivers"])
    assert len(inputs["groupShortName"]) <= 12
    for rule_group in run.of_type(RULE_GROUP):
        for rule in plain(rule_group.inputs)["rules"]:
            assert rule["actions"] == [{"actionGroupId": group.id}]
    assert hook not in json.dumps(run.exports)


# -- the shipper ---------------------------------------------------------------------------------
def test_every_replica_runs_the_shipper_from_the_stacks_registry_by_identity(
    prod: Callable[..., ProgramRun],
) -> None:
    run = prod()
    app = plain(run.one(CONTAINER_APP).inputs)
    login_server = run.one(REGISTRY).state["loginServer"]
    sidecar = containers(run)[shipper.CONTAINER_NAME]
    # The pinned digest, from the stack's own registry: the registry entry that pulls the
    # service's image with the identity pulls this one too; no other registry, no password.
    assert sidecar["image"] == f"{login_server}/prometheus@{shipper.IMAGE_DIGEST}"
    assert app["configuration"]["registries"] == [
        {"server": login_server, "identity": run.one(IDENTITY).id}
    ]
    assert "secrets" not in app["configuration"]
    assert not re.search(r"password|secretref|client_secret", json.dumps(app), re.IGNORECASE)
    # The image reaches the registry through its cache rule from Quay, without a credential set.
    cache = run.one(CACHE_RULE).inputs
    assert cache == {
        "cacheRuleName": "prometheus",
        "registryName": run.one(REGISTRY).inputs["registryName"],
        "resourceGroupName": GROUP,
        "sourceRepository": "quay.io/prometheus/prometheus",
        "targetRepository": "prometheus",
    }
    # The replica starts after the cache rule and the publisher role exist.
    assert run.depends_on(CONTAINER_APP, "app", CACHE_RULE, "shipper-image")
    assert run.depends_on(CONTAINER_APP, "app", ROLE_ASSIGNMENT, "metrics-publisher")
    assert run.depends_on(CONTAINER_APP, "app", ROLE_ASSIGNMENT, "acr-pull")


def test_the_shipper_writes_to_the_rule_as_the_apps_identity(
    prod: Callable[..., ProgramRun],
) -> None:
    run = prod()
    env = env_of(containers(run)[shipper.CONTAINER_NAME])
    agent = yaml.safe_load(env[shipper.CONFIG_ENV])
    endpoint = run.one(COLLECTION_ENDPOINT).state["metricsIngestion"]["endpoint"]
    immutable_id = run.one(COLLECTION_RULE).state["immutableId"]
    client_id = run.one(IDENTITY).state["clientId"]
    assert agent == shipper.agent_config(shipper.write_url(endpoint, immutable_id), client_id)
    (remote,) = agent["remote_write"]
    assert remote["url"] == (
        f"{endpoint}/dataCollectionRules/{immutable_id}"
        "/streams/Microsoft-PrometheusMetrics/api/v1/write?api-version=2023-04-24"
    )
    assert remote["azuread"]["managed_identity"] == {"client_id": client_id}
    uuid.UUID(client_id)  # Prometheus refuses a client_id that is not a UUID (azuread.go)


def test_the_labels_are_the_revision_replica_and_model_version(
    prod: Callable[..., ProgramRun],
) -> None:
    run = prod()
    sidecar = containers(run)[shipper.CONTAINER_NAME]
    env = env_of(sidecar)
    agent = yaml.safe_load(env[shipper.CONFIG_ENV])
    assert agent["global"]["external_labels"] == {
        "revision": "${CONTAINER_APP_REVISION}",
        "replica": "${CONTAINER_APP_REPLICA_NAME}",
        "model_version": "${MODEL_VERSION}",
    }
    # Container Apps sets the first two in every container (learn.microsoft.com "Manage
    # environment variables on Azure Container Apps", built-in variables): not set here, where
    # they would override the platform's. The model version comes from the program.
    assert set(env) == {shipper.CONFIG_ENV, shipper.MODEL_VERSION_ENV}
    assert env[shipper.MODEL_VERSION_ENV] == MODEL_VERSION == run.exports["model_version"]
    assert sidecar["command"] == shipper.command()
    assert "probes" not in sidecar
    assert "ports" not in sidecar


def test_a_replica_still_adds_up_to_an_allowed_cpu_memory_pair(
    prod: Callable[..., ProgramRun],
) -> None:
    # learn.microsoft.com "Containers in Azure Container Apps": the containers of a replica must
    # add up to one of the allowed pairs.
    run = prod()
    found = containers(run)
    assert found["api"]["resources"] == {"cpu": 0.5, "memory": "1.0Gi"}
    assert found[shipper.CONTAINER_NAME]["resources"] == {"cpu": 0.25, "memory": "0.5Gi"}
    total = (
        sum(c["resources"]["cpu"] for c in found.values()),
        sum(float(c["resources"]["memory"].removesuffix("Gi")) for c in found.values()),
    )
    assert total in config.APPS_CPU_MEMORY


def test_the_shippers_settings_are_part_of_the_revision(
    prod: Callable[..., ProgramRun], app_stack: AppStack, image: str
) -> None:
    # One rollout id throughout: without it each update would get a fresh one (infra/live.py).
    with_shipper = prod(rolloutId="r1").one(CONTAINER_APP).state["latestRevisionName"]
    without = app_stack("prod", image=image, monitoring="false", rolloutId="r1")
    assert without.error is None, without.error
    assert without.one(CONTAINER_APP).state["latestRevisionName"] != with_shipper
    # Where alerts go is not the replica's business: no new revision for it.
    mailed = prod(alertEmail="oncall@example.com", rolloutId="r1")
    mailed = mailed.one(CONTAINER_APP).state["latestRevisionName"]
    assert mailed == with_shipper


# -- the dashboard --------------------------------------------------------------------------------
def test_the_dashboard_is_a_workbook_of_the_tested_queries(prod: Callable[..., ProgramRun]) -> None:
    run = prod()
    book = run.one(WORKBOOK).inputs
    workspace = run.one(MONITOR_WORKSPACE).id
    assert book["kind"] == "shared"
    assert book["category"] == "workbook"
    assert book["sourceId"] == workspace
    assert book["resourceName"] == workbook.name("banknote-prod")
    uuid.UUID(book["resourceName"])  # a workbook's name must be a GUID
    document = json.loads(book["serializedData"])
    queries = [item for item in document["items"] if item["type"] == 3]
    panels = promql.dashboard_panels()
    assert [q["name"] for q in queries] == [p.name for p in panels]
    for item, panel in zip(queries, panels, strict=True):
        content = item["content"]
        assert content["queryType"] == 16
        assert content["resourceType"] == "microsoft.monitor/accounts"
        assert content["crossComponentResources"] == [workspace]
        query = json.loads(content["query"])
        assert query["version"] == "PrometheusQueryProvider/1.0"
        assert query["queryText"] == panel.query  # what tests/monitoring evaluates
    assert {p.name for p in panels} >= {"requests", "errors", "p50", "p95", "predictions", "drift"}


# -- turned off, and on Container Instances ------------------------------------------------------
def test_monitoring_off_declares_none_of_it(
    app_stack: AppStack, image: str, prod: Callable[..., ProgramRun]
) -> None:
    on = prod()
    off = app_stack("prod", image=image, monitoring="false")
    assert off.error is None, off.error
    removed = sorted(r.type for r in on.custom())
    for typ in MONITORING_TYPES:
        removed.remove(typ)
    assert sorted(r.type for r in off.custom()) == removed
    assert list(containers(off)) == ["api"]
    assert "monitor_workspace_id" not in off.exports


@pytest.mark.parametrize("stack", ["dev", "pr-123"])
def test_aci_stacks_have_no_monitoring_by_default(app_stack: AppStack, stack: str) -> None:
    run = app_stack(stack)
    assert not {r.type for r in run.custom()} & set(MONITORING_TYPES) - {ROLE_ASSIGNMENT}
    assert len(plain(run.one(CONTAINER_GROUP).inputs)["containers"]) == 1


def test_a_container_group_runs_the_same_shipper_when_asked(app_stack: AppStack) -> None:
    run = app_stack("alice", monitoring="true")
    assert run.error is None, run.error
    group = plain(run.one(CONTAINER_GROUP).inputs)
    found = {c["name"]: c for c in group["containers"]}
    sidecar = found[shipper.CONTAINER_NAME]
    login_server = run.one(REGISTRY).state["loginServer"]
    assert sidecar["image"] == f"{login_server}/prometheus@{shipper.IMAGE_DIGEST}"
    assert group["imageRegistryCredentials"] == [
        {"server": login_server, "identity": run.one(IDENTITY).id}
    ]
    # A container group has no revisions or replicas: its one instance is named for both.
    env = env_of(sidecar)
    assert env[shipper.REVISION_ENV] == env[shipper.REPLICA_ENV] == "banknote-alice"
    assert "ports" not in sidecar
    assert sidecar["resources"]["requests"] == {"cpu": 0.25, "memoryInGB": 0.5}
    assert run.depends_on(CONTAINER_GROUP, "group", ROLE_ASSIGNMENT, "metrics-publisher")
    assert run.depends_on(CONTAINER_GROUP, "group", CACHE_RULE, "shipper-image")


# -- config --------------------------------------------------------------------------------------
# Container Apps runs a known image only (infra/config.py refuses to run it without one).
KNOWN_IMAGE = f"banknotes0123abcd.azurecr.io/banknote-api@sha256:{'a' * 64}"


def parse(**raw: str) -> config.AppConfig:
    if raw.get("platform") == "containerapps":
        raw = {"image": KNOWN_IMAGE, **raw}
    return config.parse(raw, project="banknote", stack="s", env={})


def test_monitorings_default_is_the_platforms() -> None:
    apps = {"platform": "containerapps", "cpu": "0.5", "memoryGb": "1.0"}
    assert parse(**apps).monitoring == config.MonitoringConfig()
    assert parse(**apps, monitoring="false").monitoring is None
    assert parse().monitoring is None
    assert parse(monitoring="true").monitoring == config.MonitoringConfig()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"platform": "containerapps", "cpu": "2", "memoryGb": "4.0"},
            "leaves no room for the metrics shipper",
        ),
        ({"monitoring": "true", "cpu": "4", "memoryGb": "2"}, "leaves no room"),
        ({"monitoring": "maybe"}, "monitoring='maybe'"),
        ({"monitoring": "true", "alertEmail": "not-an-address"}, "alertEmail"),
        ({"alertEmail": "oncall@example.com"}, "monitoring is off"),
    ],
)
def test_bad_monitoring_config_is_refused_naming_the_key(raw: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse(**raw)


def test_a_bad_webhook_is_refused_without_echoing_it() -> None:
    plain_http = "http://hooks.example.com/T000/B000/s3cr3t"
    with pytest.raises(ConfigError, match="alertWebhook") as error:
        parse(monitoring="true", alertWebhook=plain_http)
    assert "s3cr3t" not in str(error.value)


def test_the_largest_container_apps_pair_fits_without_monitoring() -> None:
    raw = {"platform": "containerapps", "cpu": "2", "memoryGb": "4.0", "monitoring": "false"}
    assert parse(**raw).cpu == 2.0
