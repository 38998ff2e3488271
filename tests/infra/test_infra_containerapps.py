"""The `prod` stack on Azure Container Apps, run whole under Pulumi's mocks: the committed
Pulumi.prod.yaml, what an update declares next to what Azure runs (tests/infra/
fake_containerapps.py), and the guarantees the issue asks for.

Where each rule comes from is cited next to the test that encodes it; the SDK facts are from
pulumi-azure-native 3.x (pulumi_azure_native/app/container_app.py and _inputs.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from api.config import Settings
from infra import config, containerapp, revisions
from infra.errors import ConfigError
from infra.rollout import policy
from tests.infra.conftest import Registries, committed_config, image_in
from tests.infra.fake_containerapps import FakeContainerApps
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
    MONITORING_TYPES,
    REGISTRY,
    ROLE_ASSIGNMENT,
    ROOT,
    SHARED_KEYS,
    WORKSPACE,
    WORKSPACE_KEY,
    ProgramRun,
    is_secret,
    plain,
    run_app,
)

AppStack = Callable[..., ProgramRun]
APP = "banknote-prod"
DOMAIN = DEFAULT_DOMAIN.format(location="westeurope")
STABLE = "banknote-prod--m20261120t101010z-1111111-0a0b0c0d"
DIGEST = "sha256:" + "5" * 64
GROUP = "rg-banknote_prod"
IMAGE_REF = "banknotes0a1b2c3d.azurecr.io/banknote-api@" + DIGEST


def prod_image(registries: Registries, build: str) -> str:
    return image_in(registries, "prod", build)


@pytest.fixture(scope="module")
def image(registries: Registries) -> str:
    return prod_image(registries, "1")


def serving(stable: str = STABLE, **traffic: int) -> tuple[FakeContainerApps, dict[str, str]]:
    """Azure with prod's app serving `stable` at 100 % (or the split given), and the stack's
    outputs as the update that made it left them."""
    azure = FakeContainerApps()
    app = azure.put(
        {
            "resourceGroupName": GROUP,
            "containerAppName": APP,
            "template": {"revisionSuffix": stable.split("--", 1)[1], "containers": []},
            "configuration": {"ingress": {"traffic": [
                {"revisionName": stable, "weight": 100, "label": "stable"}
            ]}},
            "tags": {revisions.ROLLOUT_TAG: "run-0"},
        }
    )  # fmt: skip
    if traffic:
        for name in traffic:
            if name not in app.revisions:
                azure.put(
                    {
                        "resourceGroupName": GROUP,
                        "containerAppName": APP,
                        "template": {"revisionSuffix": name.split("--", 1)[1], "containers": []},
                        "configuration": {"ingress": {"traffic": app.traffic}},
                        "tags": app.tags,
                    }
                )
        entries = [
            {
                "revisionName": name,
                "weight": weight,
                "label": "stable" if name == stable else "canary",
            }
            for name, weight in traffic.items()
        ]
        azure.patch(app.id, {"properties": {"configuration": {"ingress": {"traffic": entries}}}})
    return azure, {"app_id": app.id, "app_name": APP, "resource_group": GROUP}


@pytest.fixture
def phase(registries: Registries, image: str, model_dir: Any) -> Callable[..., ProgramRun]:
    """`phase(**config)`: an update of prod, with dev's image imported, while STABLE serves."""

    def run(**extra: str) -> ProgramRun:
        azure, outputs = serving()
        cfg = {**committed_config("prod"), "modelDir": str(model_dir), "image": image, **extra}
        result = run_app(
            "prod", cfg, registries=registries.routes, azure=azure, stack_outputs=outputs
        )
        assert result.error is None, result.error
        return result

    return run


def container_app(run: ProgramRun) -> dict[str, Any]:
    return dict(plain(run.one(CONTAINER_APP).inputs))


def service_container(run: ProgramRun) -> dict[str, Any]:
    """The service's container (the other one of each replica is the metrics shipper)."""
    (container,) = [c for c in container_app(run)["template"]["containers"] if c["name"] == "api"]
    return dict(container)


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
    # Nothing committed says what serves, or which image: the program refuses to run without
    # the image a rollout passes (the next test), and reads the traffic from Azure.
    assert not {"image", "stableRevision", "canaryWeight", "rollback"} & set(raw)
    cfg = config.parse({**raw, "registryOnly": "true"}, project="banknote", stack="prod", env={})
    assert cfg.platform == "containerapps"
    assert cfg.location == "westeurope"
    assert cfg.resource_group == "rg-banknote_prod"  # the bootstrap's group for prod
    # learn.microsoft.com "Containers in Azure Container Apps": an allowed Consumption pair.
    assert (cfg.cpu, cfg.memory_gb) in config.APPS_CPU_MEMORY
    assert cfg.apps is not None
    assert cfg.apps.min_replicas >= 1  # no cold start
    assert cfg.apps.max_replicas >= 3
    # docs/deploy/prod.md: 128 concurrent requests kept p99 < 50 ms on one core; x cpu share x
    # headroom 0.5.
    assert cfg.apps.concurrent_requests == int(128 * cfg.cpu * 0.5)
    assert cfg.image is None  # the rollout sets the imported image, never a committed one


def test_the_platform_defaults_to_aci_and_only_containerapps_reads_its_keys() -> None:
    cfg = config.parse({}, project="banknote", stack="dev", env={})
    assert (cfg.platform, cfg.image, cfg.apps) == ("aci", None, None)
    # ACI keeps its own CPU rules; a Container Apps pair is not required there.
    assert config.parse({"cpu": "1.3"}, project="banknote", stack="s", env={}).cpu == 1.3
    apps = config.parse(
        {"platform": "containerapps", "cpu": "0.25", "memoryGb": "0.5", "image": IMAGE_REF},
        project="banknote",
        stack="s",
        env={},
    )
    assert apps.apps == config.ContainerAppsConfig(
        min_replicas=1,
        max_replicas=3,
        concurrent_requests=10,
        rollout_id="",
        rollout=policy.RolloutPolicy(),
    )
    assert apps.apps.rollout.steps == (0, 10, 50, 100)
    assert apps.apps.rollout.judged_steps == (10, 50)
    with pytest.raises(ConfigError, match="platform='kubernetes' is invalid"):
        config.parse({"platform": "kubernetes"}, project="banknote", stack="s", env={})


def test_container_apps_settings_are_validated_before_anything_is_declared(
    app_stack: AppStack,
) -> None:
    for extra, message in (
        ({"cpu": "1", "memoryGb": "1.5"}, "Azure Container Apps (Consumption) takes one of"),
        ({"registryAuth": "admin"}, "pulls with the managed identity only"),
        ({"minReplicas": "4", "maxReplicas": "3"}, "must not be below minReplicas"),
        ({"image": "banknote-api:latest"}, "it names no digest"),
        ({"rolloutSteps": "10,50,100"}, "the steps start at 0"),
        ({"rolloutSteps": "0,50,50,100"}, "each step must be above the one before"),
        ({"rolloutSteps": "0,ten,100"}, "comma-separated whole percentages"),
        ({"rolloutHoldSeconds": "600", "rolloutMaxHoldSeconds": "300"}, "must not be below"),
        # Two judged steps x 1800 s is over the 2400 s the job's tokens allow.
        ({"rolloutMaxHoldSeconds": "1800"}, "cannot be renewed (Azure/azure-cli#28708)"),
        ({"gateMax5xxIncrease": "5"}, "expected a fraction from 0 to 1"),
        ({"gateP95Ratio": "0.5"}, "expected a factor of at least 1"),
        ({"gateMinRequests": "0"}, "gateMinRequests='0' is invalid"),
        ({"registryOnly": "yes"}, "registryOnly='yes' is invalid: expected true or false"),
    ):
        run = app_stack("prod", **{"image": IMAGE_REF, **extra})
        assert isinstance(run.error, ConfigError), extra
        assert message in str(run.error), (extra, str(run.error))
        assert run.resources == [], extra


def test_containerapps_refuses_to_run_without_an_image(app_stack: AppStack) -> None:
    # Prod runs an image dev built and smoke-tested: with the committed config alone there is
    # nothing to run, and nothing is built from the checkout's artifact either.
    run = app_stack("prod")
    assert isinstance(run.error, ConfigError)
    assert "config image is required with platform containerapps" in str(run.error)
    assert "scripts/rollout.py status prod" in str(run.error)
    assert run.resources == []
    assert run.calls == []  # not even Azure was asked


# -- what the stack declares ---------------------------------------------------------------------
def test_prod_is_a_complete_container_apps_stack_that_builds_nothing(
    phase: Callable[..., ProgramRun],
) -> None:
    run = phase()
    assert sorted(r.type for r in run.custom()) == sorted(
        [
            REGISTRY,
            IDENTITY,
            ROLE_ASSIGNMENT,
            WORKSPACE,
            MANAGED_ENVIRONMENT,
            DIAGNOSTIC_SETTING,
            CONTAINER_APP,
            # Monitoring is on for Container Apps by default (tests/infra/test_infra_metrics.py).
            *MONITORING_TYPES,
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
    run = phase()
    container = service_container(run)
    assert container["image"] == image
    assert re.fullmatch(r"[a-z0-9]+\.azurecr\.io/banknote-api@sha256:[0-9a-f]{64}", image)
    assert run.exports["image"] == image


def test_external_https_ingress_to_port_8000(phase: Callable[..., ProgramRun]) -> None:
    ingress = container_app(phase())["configuration"]["ingress"]
    assert ingress["external"] is True
    assert ingress["targetPort"] == 8000
    # allowInsecure false: HTTP is redirected to HTTPS (SDK IngressArgs.allow_insecure).
    assert ingress["allowInsecure"] is False


def test_pulls_with_the_user_assigned_identity_and_no_secret_anywhere(
    phase: Callable[..., ProgramRun],
) -> None:
    run = phase()
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
    run = phase()
    assert run.depends_on(CONTAINER_APP, "app", ROLE_ASSIGNMENT, "acr-pull")
    assert run.graph[run.urn(CONTAINER_APP, "app")].error_hooks == ["retry-revision-pull"]
    (grant,) = [r.inputs for r in run.of_type(ROLE_ASSIGNMENT) if r.name == "acr-pull"]
    assert grant["principalId"] == run.one(IDENTITY).state["principalId"]
    assert grant["scope"] == run.one(REGISTRY).id
    assert grant["roleDefinitionId"].endswith("7f951dda-4ed3-4680-a7ca-43fe172d538d")


def test_probes_on_health_and_ready(phase: Callable[..., ProgramRun]) -> None:
    container = service_container(phase())
    probes = {p["type"]: p["httpGet"] for p in container["probes"]}
    assert probes == {
        "Liveness": {"path": "/health", "port": 8000, "scheme": "HTTP"},
        "Readiness": {"path": "/ready", "port": 8000, "scheme": "HTTP"},
    }
    env = {e["name"]: e["value"] for e in container["env"]}
    assert {k: env[k] for k in ("HOST", "PORT", "WORKERS", "LOG_LEVEL")} == {
        "HOST": "0.0.0.0",
        "PORT": "8000",
        "WORKERS": "1",
        "LOG_LEVEL": "info",
    }


def test_shutdown_fits_the_revisions_grace_period(phase: Callable[..., ProgramRun]) -> None:
    # learn.microsoft.com "Application lifecycle management in Azure Container Apps", Shutdown:
    # on scale-in or deactivation each replica gets SIGTERM, then SIGKILL once the template's
    # terminationGracePeriodSeconds (30 s if unset) has passed.
    run = phase()
    grace = container_app(run)["template"]["terminationGracePeriodSeconds"]
    container = service_container(run)
    env = {e["name"].lower(): e["value"] for e in container["env"]}
    served = Settings.model_validate(env)  # what the service reads from this environment
    readiness = next(p for p in container["probes"] if p["type"] == "Readiness")
    # The drain lasts until the readiness probe has failed often enough to stop routing here.
    assert (
        served.shutdown_drain_seconds >= readiness["periodSeconds"] * readiness["failureThreshold"]
    )
    # In-flight requests get a real budget, and the worst case ends before the SIGKILL.
    assert served.graceful_shutdown_seconds >= 5
    worst = served.shutdown_drain_seconds + served.graceful_shutdown_seconds
    assert worst + containerapp.SHUTDOWN_SPARE_SECONDS <= grace
    assert containerapp.SHUTDOWN_SPARE_SECONDS >= 2


@pytest.mark.parametrize("constant", ["TERMINATION_GRACE_SECONDS", "SHUTDOWN_DRAIN_SECONDS"])
def test_a_new_shutdown_timing_is_a_new_revision(
    monkeypatch: pytest.MonkeyPatch, constant: str
) -> None:
    # Azure silently keeps a revision whose suffix is reused (microsoft/azure-container-apps#650),
    # so whatever changes how the replica stops must change the suffix.
    image = f"reg.azurecr.io/banknote-api@{DIGEST}"
    raw = {"platform": "containerapps", "cpu": "0.5", "memoryGb": "1.0", "image": image}
    cfg = config.parse(raw, project="banknote", stack="s", env={})
    assert cfg.apps is not None

    def suffix() -> str:
        sent = containerapp.template(cfg, cfg.apps, image)  # type: ignore[arg-type]
        return revisions.suffix(APP, MODEL_VERSION, dict(sent), "rollout-1")

    before = suffix()
    monkeypatch.setattr(containerapp, constant, getattr(containerapp, constant) + 1)
    assert suffix() != before


def test_cpu_memory_and_the_http_scale_rule(phase: Callable[..., ProgramRun]) -> None:
    run = phase()
    template = container_app(run)["template"]
    assert service_container(run)["resources"] == {"cpu": 0.5, "memory": "1.0Gi"}
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
    run = phase()
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
    run = phase()
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
    run = phase()
    suffix = container_app(run)["template"]["revisionSuffix"]
    assert new_revision(run) == f"{APP}--{suffix}"
    # Lower-case letters, digits and '-', a letter first, no '--', at most 54 characters with
    # the app name.
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", suffix)
    assert "--" not in suffix
    assert len(APP) + len(suffix) <= 54
    assert suffix.startswith("m" + MODEL_VERSION.lower()[:16])  # m20261126t041500z...
    assert run.exports["latest_revision"] == new_revision(run)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        return [leaf for key in value for leaf in _leaves(value[key], (*path, key))]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, (*path, i))]
    return [(path, value)]


def _changed(template: Any, path: tuple[Any, ...]) -> Any:
    copy = json.loads(json.dumps(template))
    target = copy
    for key in path[:-1]:
        target = target[key]
    old = target[path[-1]]
    target[path[-1]] = old + 1 if isinstance(old, int | float) else f"{old}-changed"
    return copy


def test_the_suffix_hashes_every_value_of_the_template_that_is_sent(
    phase: Callable[..., ProgramRun], image: str
) -> None:
    # Azure ignores a template that reuses a suffix (microsoft/azure-container-apps#650), so a
    # setting left out of the hash could change without a new revision, silently lost. The
    # suffix hashes the template as it is sent: every leaf, probes' thresholds included.
    # Monitoring off here: the shipper's container is hashed too, once its settings are known
    # (tests/infra/test_infra_metrics.py: the suffix changes with the shipper).
    cfg = config.parse(
        {**committed_config("prod"), "image": image, "monitoring": "false"},
        project="banknote",
        stack="prod",
        env={},
    )
    assert cfg.apps is not None
    template = containerapp.template(cfg, cfg.apps, image)
    sent = container_app(phase(rolloutId="r1", monitoring="false"))["template"]
    assert sent.pop("revisionSuffix")

    # What is hashed is what is sent: the same values, leaf for leaf (the SDK only renames the
    # keys to Azure's camelCase; numbers cross the wire as protobuf doubles).
    def values(tree: Any) -> list[str]:
        return sorted(
            repr(float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
            for _, v in _leaves(tree)
        )

    assert values(template) == values(sent)
    base = revisions.suffix(APP, MODEL_VERSION, dict(template), "r1")
    assert revisions.suffix(APP, MODEL_VERSION, dict(template), "r1") == base
    assert revisions.suffix(APP, MODEL_VERSION, dict(template), "r2") != base
    leaves = _leaves(template)
    assert len(leaves) > 20
    suffixes = {
        revisions.suffix(APP, MODEL_VERSION, _changed(template, p), "r1") for p, _ in leaves
    }
    assert base not in suffixes
    assert len(suffixes) == len(leaves)


def test_the_suffix_changes_with_what_runs_and_only_then(
    phase: Callable[..., ProgramRun], registries: Registries
) -> None:
    first = new_revision(phase(rolloutId="r1"))
    assert new_revision(phase(rolloutId="r1")) == first
    other_image = prod_image(registries, "2")
    changed = [
        new_revision(phase(rolloutId="r1", image=other_image)),
        new_revision(phase(rolloutId="r1", minReplicas="3")),
        new_revision(phase(rolloutId="r1", logLevel="debug")),
        # A retried rollout of the same image: Azure ignores a suffix it has already seen
        # (microsoft/azure-container-apps#650), so the rollout id makes a new one.
        new_revision(phase(rolloutId="r2")),
    ]
    assert first not in changed
    assert len(set(changed)) == len(changed)


@pytest.mark.parametrize("label", ["banknote-prod", "b" * 63, "notes-" + "x" * 40])
def test_app_names_and_suffixes_stay_within_azures_limits(label: str) -> None:
    name = revisions.app_name(label)
    assert 2 <= len(name) <= 32
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", name)
    assert "--" not in name
    suffix = revisions.suffix(name, "20261126T041500Z-3856aec-802f23", {"cpu": 1}, "run-1")
    assert len(name) + len(suffix) <= revisions.REVISION_NAME_MAX
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", suffix)
    assert "--" not in suffix


# -- the traffic list: as Azure has it, plus the new revision at 0 % --------------------------
def test_first_create_names_the_new_revision_at_100(
    registries: Registries, image: str, model_dir: Any
) -> None:
    # No update has created the app (the stack's outputs say so, so Azure is not asked). A
    # named revision <app>--<suffix> is what the service accepts for the revision the same
    # request creates (hashicorp/terraform-provider-azurerm#27396, which relaxed #24042 after
    # the service team confirmed it); latestRevision stays false.
    cfg = {**committed_config("prod"), "modelDir": str(model_dir), "image": image}
    azure = FakeContainerApps()
    run = run_app("prod", cfg, registries=registries.routes, azure=azure)
    assert run.error is None, run.error
    new = new_revision(run)
    assert traffic(run) == [(new, 100, "stable")]
    assert "azure-native:app:getContainerApp" not in [token for token, _ in run.calls]
    assert run.exports["stable_revision"] == new
    assert run.exports["canary_url"] == ""
    assert run.exports["url"] == f"https://{APP}.{DOMAIN}/"
    assert run.exports["app_id"] == azure.app(GROUP, APP).id


def test_an_update_adds_the_new_revision_at_0_percent_with_its_label(
    phase: Callable[..., ProgramRun],
) -> None:
    run = phase()
    new = new_revision(run)
    assert traffic(run) == [(STABLE, 100, "stable"), (new, 0, "canary")]
    # The label's URL reaches the canary although it has no traffic (learn.microsoft.com
    # "Blue-Green Deployment in Azure Container Apps": https://<app>---<label>.<domain>).
    assert run.exports["canary_url"] == f"https://{APP}---canary.{DOMAIN}/"
    assert run.exports["stable_revision"] == STABLE  # production still serves the old one
    assert run.exports["url"] == f"https://{APP}.{DOMAIN}/"
    assert run.exports["fqdn"] == f"{APP}.{DOMAIN}"


def _update(registries: Registries, image: str, model_dir: Any, **split: int) -> ProgramRun:
    azure, outputs = serving(STABLE, **split)
    cfg = {**committed_config("prod"), "modelDir": str(model_dir), "image": image}
    return run_app("prod", cfg, registries=registries.routes, azure=azure, stack_outputs=outputs)


def test_an_update_never_moves_a_weight(registries: Registries, image: str, model_dir: Any) -> None:
    # The revision this update declares already has 10 % (a rollout at its first step): the
    # update declares the list as Azure has it, whatever config or checkout runs it.
    probe = _update(registries, image, model_dir)
    ours = new_revision(probe)
    azure, outputs = serving(STABLE, **{STABLE: 90, ours: 10})
    app = azure.app(GROUP, APP)
    app.tags = {revisions.ROLLOUT_TAG: probe.exports["rollout_id"]}
    cfg = {
        **committed_config("prod"),
        "modelDir": str(model_dir),
        "image": image,
        "rolloutId": probe.exports["rollout_id"],
    }
    run = run_app("prod", cfg, registries=registries.routes, azure=azure, stack_outputs=outputs)
    assert run.error is None, run.error
    assert traffic(run) == [(STABLE, 90, "stable"), (ours, 10, "canary")]
    assert azure.split(GROUP, APP) == [(STABLE, 90, "stable"), (ours, 10, "canary")]


def test_no_revision_is_added_while_a_canary_holds_a_share(
    registries: Registries, image: str, model_dir: Any
) -> None:
    other = "banknote-prod--m20261125t000000z-2222222-0b0b0b0b"
    run = _update(registries, image, model_dir, **{STABLE: 50, other: 50})
    assert isinstance(run.error, ConfigError)
    assert f"{other} has 50 % as the canary of a rollout that has not finished" in str(run.error)
    assert run.resources == []  # refused before anything was declared


def test_an_idle_canary_of_an_earlier_run_gives_way(
    registries: Registries, image: str, model_dir: Any
) -> None:
    idle = "banknote-prod--m20261125t000000z-2222222-0b0b0b0b"
    run = _update(registries, image, model_dir, **{STABLE: 100, idle: 0})
    assert run.error is None, run.error
    assert traffic(run) == [(STABLE, 100, "stable"), (new_revision(run), 0, "canary")]


@pytest.mark.parametrize(
    ("entries", "stable"),
    [
        ([revisions.Traffic("a--x", 100)], "a--x"),  # set by hand, no label: the only one
        (
            [revisions.Traffic("a--x", 0, "canary"), revisions.Traffic("a--y", 100, "stable")],
            "a--y",
        ),
    ],
)
def test_the_serving_revision_is_the_stable_label_or_the_only_weighted_one(
    entries: list[revisions.Traffic], stable: str
) -> None:
    assert revisions.stable_of(entries) == stable


def test_a_traffic_list_nobody_can_read_is_refused() -> None:
    entries = [revisions.Traffic("a--x", 60), revisions.Traffic("a--y", 40)]
    with pytest.raises(revisions.TrafficError, match="cannot tell which revision serves"):
        revisions.declare("a--z", revisions.LiveApp(tuple(entries), "a--y", "img", ""))


def test_the_rollout_id_is_read_back_only_for_the_revision_that_still_serves() -> None:
    serving_now = revisions.LiveApp(
        (revisions.Traffic("a--x", 100, "stable"),), "a--x", "img", "r1"
    )
    # The same image as Azure's latest revision, which serves: its id, so no new revision.
    assert revisions.rollout_id_for("", "img", serving_now) == "r1"
    # Given: that one.
    assert revisions.rollout_id_for("r9", "img", serving_now) == "r9"
    # Another image, or a latest revision that no longer serves (a rolled-back canary, whose
    # suffix Azure would ignore if reused): a fresh one.
    rolled_back = revisions.LiveApp(
        (revisions.Traffic("a--x", 100, "stable"),), "a--y", "img", "r2"
    )
    for fresh in (
        revisions.rollout_id_for("", "other", serving_now),
        revisions.rollout_id_for("", "img", rolled_back),
        revisions.rollout_id_for("", "img", None),
    ):
        assert fresh not in ("", "r1", "r2")
        assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", fresh)


def test_outputs_of_the_container_apps_stack(phase: Callable[..., ProgramRun]) -> None:
    out = phase(rolloutId="run-7").exports
    assert set(out) == {
        "url",
        "docs_url",
        "fqdn",
        "image",
        "registry",
        "resource_group",
        "model_version",
        "app_id",
        "app_name",
        "latest_revision",
        "stable_revision",
        "canary_url",
        "rollout_id",
        "monitor_workspace_id",
        "prometheus_query_endpoint",
        "dashboard_id",
    }
    assert out["docs_url"] == f"https://{APP}.{DOMAIN}/docs"
    assert out["model_version"] == MODEL_VERSION
    assert out["rollout_id"] == "run-7"


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
