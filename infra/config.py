"""The app stack's configuration: every key, its default, and its validation, in one place.

`load()` reads the stack's Pulumi config; `parse()` turns raw strings into an `AppConfig` or
raises `ConfigError` naming the key. Both run before any resource is declared. The defaults here
are the ones documented in Pulumi.yaml (a test keeps the two equal).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, NoReturn

import pulumi

from infra import naming, paths
from infra.errors import ConfigError
from infra.pinned_image import ImageReference, parse_reference
from infra.rollout import policy
from infra.rollout.policy import GateThresholds, RolloutPolicy

RegistryAuth = Literal["identity", "admin"]
Platform = Literal["aci", "containerapps"]

# Every key the app program reads, with its default (strings, as Pulumi config values are).
DEFAULTS: Final[Mapping[str, str]] = {
    "location": "westeurope",
    "cpu": "1",
    "memoryGb": "1.5",
    "dnsLabelPrefix": "",  # empty: the project name
    "dnsReuseScope": "TenantReuse",
    "registrySku": "Premium",
    "registryAuth": "identity",
    "imageName": "banknote-api",
    "workers": "1",
    "logLevel": "info",
    "modelDir": "artifacts/model",
    "baseImage": "",  # empty: the Dockerfile's own default
    "gitCommit": "",  # empty: $GIT_COMMIT or $GITHUB_SHA when set, else unknown
    "resourceGroup": "",  # empty: the stack creates and owns rg-<dns label>
    "platform": "aci",
    "image": "",  # empty: build the image from modelDir; else deploy this one by digest
    "registryOnly": "false",  # true: the registry and its pull identity only (prod's first import)
    # Azure Container Apps only (platform: containerapps); see infra/containerapp.py.
    "minReplicas": "1",
    "maxReplicas": "3",
    "concurrentRequests": "10",
    # Empty: the rollout id of the revision Azure runs when it runs this image, else a new one.
    "rolloutId": "",
    # The progressive rollout (scripts/rollout.py) and its gate; infra/rollout/policy.py says why.
    "rolloutSteps": "0,10,50,100",
    "rolloutHoldSeconds": str(policy.DEFAULT_HOLD_SECONDS),
    "rolloutMaxHoldSeconds": str(policy.DEFAULT_MAX_HOLD_SECONDS),
    "gateMinRequests": str(policy.DEFAULT_MIN_REQUESTS),
    "gateMax5xxIncrease": str(policy.DEFAULT_MAX_5XX_INCREASE),
    "gateP95Ratio": str(policy.DEFAULT_P95_RATIO),
    "gateP95SlackMs": str(round(policy.DEFAULT_P95_SLACK_SECONDS * 1000)),
    "gateMaxClassShift": str(policy.DEFAULT_MAX_CLASS_SHIFT),
    # Metrics in an Azure Monitor workspace, alert rules, dashboard (infra/managed_prometheus.py).
    "monitoring": "",  # empty: true on containerapps, false on aci (Pulumi.yaml says why)
    "alertEmail": "",  # empty: no email receiver
    "alertWebhook": "",  # empty: no webhook receiver (set it with --secret: it may hold a token)
}

# Keys an older rollout wrote into a runner's Pulumi.prod.yaml: traffic is no longer stack
# config (Azure's traffic list is the truth; only scripts/rollout.py moves it), so a checkout
# that still carries one is told so instead of silently ignoring it.
RETIRED_KEYS: Final = ("canaryWeight", "stableRevision", "rollback")

# Azure Container Instances limits for a Linux container group in a standard region
# (learn.microsoft.com "Resource availability & quota limits"): up to 4 vCPU and 16 GB.
CPU_RANGE: Final = (0.1, 4.0)
MEMORY_GB_RANGE: Final = (0.1, 16.0)
WORKERS_RANGE: Final = (1, 16)

# Programmatic region names ("westeurope", "eastus2"), not display names ("West Europe").
_LOCATION = re.compile(r"^[a-z][a-z0-9]{2,39}$")
_IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$")
_GIT_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
# Azure resource group names: 1-90 letters, digits, '_', '-', '.', '(' and ')', not ending in '.'
# (learn.microsoft.com "Naming rules and restrictions for Azure resources").
_RESOURCE_GROUP = re.compile(r"^[A-Za-z0-9_().-]{0,89}[A-Za-z0-9_()-]$")
_REUSE_SCOPES: Final = ("TenantReuse", "SubscriptionReuse", "ResourceGroupReuse", "Unsecure")
_REGISTRY_SKUS: Final = ("Basic", "Standard", "Premium")
_LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug")
_PLATFORMS: Final = ("aci", "containerapps")
# Azure Container Apps, Consumption plan: the CPU and memory of a replica must be one of these
# pairs (learn.microsoft.com "Containers in Azure Container Apps", vCPU and memory allocation
# requirements; a Consumption-only environment stops at 2 cores and 4Gi).
APPS_CPU_MEMORY: Final = (
    (0.25, 0.5),
    (0.5, 1.0),
    (0.75, 1.5),
    (1.0, 2.0),
    (1.25, 2.5),
    (1.5, 3.0),
    (1.75, 3.5),
    (2.0, 4.0),
)
APPS_REPLICAS_RANGE: Final = (0, 300)  # the Consumption plan's maximum replicas per revision
CONCURRENT_REQUESTS_RANGE: Final = (1, 10_000)
_ROLLOUT_ID = re.compile(r"^[A-Za-z0-9._-]{0,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_WEBHOOK = re.compile(r"^https://[^\s/]+\.[^\s/]+(/\S*)?$")
# The metrics shipper's container, next to the service's in every replica (infra/shipper.py):
# the smallest step that keeps a Container Apps replica's total an allowed pair.
SHIPPER_CPU: Final = 0.25
SHIPPER_MEMORY_GB: Final = 0.5
# Where monitoring is on unless config says otherwise: prod, whose replicas nothing else can see.
MONITORING_BY_PLATFORM: Final = {"containerapps": True, "aci": False}


@dataclass(frozen=True)
class ContainerAppsConfig:
    """Settings only Azure Container Apps reads (platform: containerapps)."""

    min_replicas: int
    max_replicas: int
    concurrent_requests: int  # the HTTP scale rule's threshold per replica
    # Part of the revision suffix's hash, so a retried rollout gets a fresh revision; empty: the
    # one Azure's revision of the same image carries, else a new one (infra/live.py).
    rollout_id: str
    rollout: RolloutPolicy  # the steps, holds and gate thresholds scripts/rollout.py applies


@dataclass(frozen=True)
class MonitoringConfig:
    """Metrics shipping, alert rules and the dashboard (config `monitoring` on)."""

    alert_email: str | None = None  # an action group's email receiver
    alert_webhook: str | None = None  # an action group's webhook receiver; kept a secret


@dataclass(frozen=True)
class AppConfig:
    """Validated settings for one app stack."""

    project: str
    stack: str
    location: str
    cpu: float
    memory_gb: float
    dns_label: str
    dns_reuse_scope: str
    registry_sku: str
    registry_auth: RegistryAuth
    image_name: str
    workers: int
    log_level: str
    model_dir: Path  # absolute: resolved from the project root, never from the cwd
    base_image: str | None
    git_commit: str | None
    resource_group: str | None  # an existing group to deploy into; None: create rg-<label>
    platform: Platform = "aci"
    image: ImageReference | None = None  # a known image to deploy as it is; None: build one
    # Declare the registry and its pull identity only (scripts/rollout.py, prod's first import).
    registry_only: bool = False
    apps: ContainerAppsConfig | None = None  # set exactly when platform is containerapps
    monitoring: MonitoringConfig | None = None  # None: no workspace, shipper, rules or dashboard


def load() -> AppConfig:
    """Read and validate the current stack's config (`pulumi config`)."""
    config = pulumi.Config()
    retired = [key for key in RETIRED_KEYS if config.get(key) is not None]
    if retired:
        raise ConfigError(
            f"config {', '.join(retired)} is no longer read: the traffic split lives in Azure and "
            "only scripts/rollout.py moves it; remove it with "
            + " and ".join(f"`pulumi config rm {key}`" for key in retired)
        )
    raw = {key: config.get(key) for key in DEFAULTS}
    return parse(raw, project=pulumi.get_project(), stack=pulumi.get_stack(), env=os.environ)


def parse(
    raw: Mapping[str, str | None],
    *,
    project: str,
    stack: str,
    env: Mapping[str, str],
    root: Path = paths.PROJECT_ROOT,
) -> AppConfig:
    """Validate raw config strings (missing or empty means the default).

    A relative `modelDir` is taken from `root`, the project root, whatever the working
    directory is (the Pulumi CLI runs the program from infra/; see infra/paths.py).
    """
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")

    def get(key: str) -> str:
        value = raw.get(key)
        return DEFAULTS[key] if value is None or value.strip() == "" else value.strip()

    location = get("location")
    if not _LOCATION.match(location):
        _fail(
            "location",
            location,
            "use the programmatic region name, lower-case without spaces, e.g. 'westeurope' "
            "(see `az account list-locations -o table`)",
        )

    prefix = get("dnsLabelPrefix") if raw.get("dnsLabelPrefix") else project
    try:
        dns_label = naming.dns_label(prefix, stack)
    except ValueError as exc:
        raise ConfigError(f"config dnsLabelPrefix={prefix!r} is invalid: {exc}") from None

    # GIT_COMMIT first: the workflows set it to the commit the run is about (on a pull request
    # the PR's head, where GITHUB_SHA is GitHub's test merge commit, new on every run), and
    # scripts/stack.sh sets it to HEAD. The same order as model/metadata.py's git_commit().
    git_commit = (
        get("gitCommit") or env.get("GIT_COMMIT", "").strip() or env.get("GITHUB_SHA", "").strip()
    ) or None
    if git_commit is not None and not _GIT_COMMIT.match(git_commit):
        _fail("gitCommit", git_commit, "expected 7 to 40 lower-case hex digits")

    auth = _choice("registryAuth", get("registryAuth"), ("identity", "admin"))
    registry_auth: RegistryAuth = "admin" if auth == "admin" else "identity"

    image_name = get("imageName")
    if not _IMAGE_NAME.match(image_name) or len(image_name) > 128:
        _fail("imageName", image_name, "expected a lower-case repository name like 'banknote-api'")

    resource_group = get("resourceGroup") or None
    if resource_group is not None and not _RESOURCE_GROUP.match(resource_group):
        _fail(
            "resourceGroup",
            resource_group,
            "expected an existing resource group's name (1-90 letters, digits, '_', '-', '.', "
            "'(' or ')', not ending in '.')",
        )

    platform: Platform = (
        "containerapps"
        if _choice("platform", get("platform"), _PLATFORMS) == "containerapps"
        else "aci"
    )
    image = None
    if get("image"):
        try:
            image = parse_reference(get("image"))
        except ValueError as exc:
            raise ConfigError(f"config image={get('image')!r} is invalid: {exc}") from None
    registry_only = _boolean("registryOnly", get("registryOnly"))
    if platform == "containerapps":
        if registry_auth == "admin":
            _fail(
                "registryAuth",
                "admin",
                "Azure Container Apps pulls with the managed identity only (no secret anywhere); "
                "registryAuth admin is a fallback for Azure Container Instances",
            )
        if image is None and not registry_only:
            raise ConfigError(
                "config image is required with platform containerapps: it runs an image dev "
                "built and smoke-tested, never a build of this checkout. scripts/rollout.py sets "
                f"it for its run; `scripts/rollout.py status {stack}` prints the image that serves"
            )
        cpu, memory_gb = _apps_cpu_memory(get("cpu"), get("memoryGb"))
        apps: ContainerAppsConfig | None = _apps(get)
    else:
        cpu = _decimal("cpu", get("cpu"), CPU_RANGE, "vCPU")
        memory_gb = _decimal("memoryGb", get("memoryGb"), MEMORY_GB_RANGE, "GB")
        apps = None
    monitoring = _monitoring(get, platform)
    if monitoring is not None:
        _room_for_the_shipper(platform, cpu, memory_gb)

    return AppConfig(
        project=project,
        stack=stack,
        location=location,
        cpu=cpu,
        memory_gb=memory_gb,
        dns_label=dns_label,
        dns_reuse_scope=_choice("dnsReuseScope", get("dnsReuseScope"), _REUSE_SCOPES),
        registry_sku=_choice("registrySku", get("registrySku"), _REGISTRY_SKUS),
        registry_auth=registry_auth,
        image_name=image_name,
        workers=_integer("workers", get("workers"), WORKERS_RANGE),
        log_level=_choice("logLevel", get("logLevel"), _LOG_LEVELS),
        model_dir=paths.from_root(get("modelDir"), root),
        base_image=get("baseImage") or None,
        git_commit=git_commit,
        resource_group=resource_group,
        platform=platform,
        image=image,
        registry_only=registry_only,
        apps=apps,
        monitoring=monitoring,
    )


def _monitoring(get: Callable[[str], str], platform: Platform) -> MonitoringConfig | None:
    """Monitoring on or off (empty: the platform's default), and where alerts go."""
    value = get("monitoring")
    enabled = MONITORING_BY_PLATFORM[platform] if value == "" else _boolean("monitoring", value)
    email, webhook = get("alertEmail") or None, get("alertWebhook") or None
    if email is not None and not _EMAIL.match(email):
        _fail("alertEmail", email, "expected one email address, e.g. oncall@example.com")
    if webhook is not None and not _WEBHOOK.match(webhook):
        # Never echo it: a webhook URL often carries its own token.
        raise ConfigError(
            "config alertWebhook is invalid: expected an https:// URL (set it with "
            "`pulumi config set --secret alertWebhook <url>`)"
        )
    if not enabled:
        for key, given in (("alertEmail", email), ("alertWebhook", webhook)):
            if given is not None:
                raise ConfigError(
                    f"config {key} is set but monitoring is off on this stack: alerts need "
                    "the Azure Monitor workspace (set monitoring to true, or remove the key)"
                )
        return None
    return MonitoringConfig(alert_email=email, alert_webhook=webhook)


def _room_for_the_shipper(platform: Platform, cpu: float, memory_gb: float) -> None:
    """The shipper's container adds SHIPPER_CPU and SHIPPER_MEMORY_GB to each replica."""
    total = (round(cpu + SHIPPER_CPU, 2), round(memory_gb + SHIPPER_MEMORY_GB, 2))
    if platform == "containerapps":
        fits = total in APPS_CPU_MEMORY
        limit = "Azure Container Apps (Consumption) allows at most 2 vCPU and 4Gi per replica"
    else:
        fits = total[0] <= CPU_RANGE[1] and total[1] <= MEMORY_GB_RANGE[1]
        limit = "Azure Container Instances allows at most 4 vCPU and 16 GB per group"
    if not fits:
        raise ConfigError(
            f"config cpu={cpu:g}, memoryGb={memory_gb:g} leaves no room for the metrics shipper "
            f"({SHIPPER_CPU:g} vCPU, {SHIPPER_MEMORY_GB:g} GB more): {limit}; lower cpu and "
            "memoryGb, or set monitoring to false"
        )


def _apps_cpu_memory(cpu: str, memory: str) -> tuple[float, float]:
    """A CPU/memory pair Azure Container Apps' Consumption plan accepts."""
    pairs = ", ".join(f"{c:g}/{m:g}" for c, m in APPS_CPU_MEMORY)
    try:
        pair = (float(cpu), float(memory))
    except ValueError:
        pair = (math.nan, math.nan)
    if pair not in APPS_CPU_MEMORY:
        raise ConfigError(
            f"config cpu={cpu!r}, memoryGb={memory!r} is invalid: Azure Container Apps "
            f"(Consumption) takes one of the pairs cpu/memoryGb {pairs}"
        )
    return pair


def _apps(get: Callable[[str], str]) -> ContainerAppsConfig:
    """The Container Apps keys: replicas, scale threshold and the rollout's traffic split."""
    min_replicas = _integer("minReplicas", get("minReplicas"), APPS_REPLICAS_RANGE)
    max_replicas = _integer("maxReplicas", get("maxReplicas"), (1, APPS_REPLICAS_RANGE[1]))
    if max_replicas < min_replicas:
        _fail("maxReplicas", str(max_replicas), f"must not be below minReplicas ({min_replicas})")
    rollout_id = get("rolloutId")
    if not _ROLLOUT_ID.match(rollout_id):
        _fail("rolloutId", rollout_id, "expected up to 64 letters, digits, '.', '_' or '-'")
    return ContainerAppsConfig(
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        concurrent_requests=_integer(
            "concurrentRequests", get("concurrentRequests"), CONCURRENT_REQUESTS_RANGE
        ),
        rollout_id=rollout_id,
        rollout=rollout_policy(get),
    )


def rollout_policy(get: Callable[[str], str]) -> RolloutPolicy:
    """The rollout's steps, holds and gate thresholds (infra/rollout/policy.py says why)."""
    try:
        steps = policy.parse_steps(get("rolloutSteps"))
    except ValueError as exc:
        raise ConfigError(
            f"config rolloutSteps={get('rolloutSteps')!r} is invalid: {exc}"
        ) from None
    hold = _integer("rolloutHoldSeconds", get("rolloutHoldSeconds"), (1, 3600))
    max_hold = _integer("rolloutMaxHoldSeconds", get("rolloutMaxHoldSeconds"), (1, 3600))
    if max_hold < hold:
        _fail(
            "rolloutMaxHoldSeconds", str(max_hold), f"must not be below rolloutHoldSeconds ({hold})"
        )
    judged = len([w for w in steps if 0 < w < 100])
    if judged * max_hold > policy.MAX_TOTAL_HOLD_SECONDS:
        _fail(
            "rolloutMaxHoldSeconds",
            str(max_hold),
            f"{judged} judged steps x {max_hold} s is over {policy.MAX_TOTAL_HOLD_SECONDS} s: the "
            "Azure CLI's tokens from the job's OIDC login last 60 to 90 minutes and cannot be "
            "renewed (Azure/azure-cli#28708)",
        )
    gate = GateThresholds(
        min_requests=_integer("gateMinRequests", get("gateMinRequests"), (1, 1_000_000)),
        max_5xx_increase=_fraction("gateMax5xxIncrease", get("gateMax5xxIncrease")),
        p95_ratio=_ratio("gateP95Ratio", get("gateP95Ratio")),
        p95_slack_seconds=_integer("gateP95SlackMs", get("gateP95SlackMs"), (0, 60_000)) / 1000,
        max_class_shift=_fraction("gateMaxClassShift", get("gateMaxClassShift")),
    )
    return RolloutPolicy(steps=steps, hold_seconds=hold, max_hold_seconds=max_hold, gate=gate)


def _fraction(key: str, value: str) -> float:
    """A share from 0 to 1, e.g. 0.01 for one percentage point."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0 <= number <= 1:
        _fail(key, value, "expected a fraction from 0 to 1, e.g. 0.01 for one percentage point")
    return number


def _ratio(key: str, value: str) -> float:
    """A factor of at least 1."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number >= 1):
        _fail(key, value, "expected a factor of at least 1, e.g. 1.5")
    return number


def _fail(key: str, value: str, why: str) -> NoReturn:
    raise ConfigError(f"config {key}={value!r} is invalid: {why}")


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        _fail(key, value, f"expected one of {', '.join(allowed)}")
    return value


def _boolean(key: str, value: str) -> bool:
    """true or false, in any case (Pulumi config values are strings)."""
    lowered = value.lower()
    if lowered not in ("true", "false"):
        _fail(key, lowered, "expected true or false")
    return lowered == "true"


def _decimal(key: str, value: str, bounds: tuple[float, float], unit: str) -> float:
    """A number within the ACI limits with at most one decimal (ACI's granularity)."""
    low, high = bounds
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not low <= number <= high:
        _fail(key, value, f"Azure Container Instances allows {low:g} to {high:g} {unit}")
    if round(number, 1) != number:
        _fail(key, value, "use steps of 0.1")
    return number


def _integer(key: str, value: str, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if not value.isdigit() or not low <= int(value) <= high:
        _fail(key, value, f"expected a whole number from {low} to {high}")
    return int(value)
