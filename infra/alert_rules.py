"""The committed rule file, `monitoring/alerts.yml`, as Azure Monitor Prometheus rule groups.

The file is the one promtool checks and unit-tests; this reads it, so what Azure evaluates is
what the tests evaluated. Differences in spelling, from the API (Microsoft.AlertsManagement/
prometheusRuleGroups 2023-03-01, pulumi-azure-native alertsmanagement.PrometheusRuleArgs):
`expr` is `expression`, `for` an ISO 8601 duration ("15m" is "PT15M"), and severity a number
0-4 (learn.microsoft.com "What are Azure Monitor alerts?": 0 Critical, 1 Error, 2 Warning,
3 Informational, 4 Verbose). The rule's `labels` and `annotations` travel as they are (Azure
renders `{{ $labels.x }}` templates in annotations).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pulumi
import yaml
from pulumi_azure_native import alertsmanagement

from infra import paths
from infra.errors import ConfigError

RULE_FILE: Final = paths.PROJECT_ROOT / "monitoring" / "alerts.yml"
# The rule file's severity label, in Azure's numbers.
SEVERITY: Final = {"critical": 1, "warning": 2}
INTERVAL: Final = "PT1M"  # how often Azure evaluates each group; its minimum
# An alert that stops matching is resolved after this long (Microsoft's own rule groups use
# 10 to 15 minutes: Azure/prometheus-collector AddonArmTemplate/AzureMonitorAlertsProfile.json).
RESOLVE_AFTER: Final = "PT10M"
_DURATION: Final = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_RULE_KEYS: Final = {"alert", "expr", "for", "labels", "annotations"}


@dataclass(frozen=True)
class RuleGroup:
    """One group of the rule file."""

    name: str
    rules: list[dict[str, Any]]


def load(path: Path = RULE_FILE) -> list[RuleGroup]:
    """The groups of a rule file; ConfigError naming the rule if one is not an alert Azure can
    take (a summary and a runbook included: the operator's first look)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read the alert rules {path}: {error}") from None
    groups = []
    for group in (document or {}).get("groups") or []:
        for rule in group.get("rules") or []:
            name = rule.get("alert", "<unnamed>")
            unknown = set(rule) - _RULE_KEYS
            missing = {"alert", "expr", "for"} - set(rule)
            if unknown or missing:
                raise ConfigError(
                    f"rule {name} in {path}: unknown keys {sorted(unknown)}, missing "
                    f"{sorted(missing)} (alerting rules only)"
                )
            if not {"summary", "runbook"} <= set(rule.get("annotations") or {}):
                raise ConfigError(f"rule {name} in {path} needs summary and runbook annotations")
            if (rule.get("labels") or {}).get("severity") not in SEVERITY:
                raise ConfigError(f"rule {name} in {path}: severity is one of {sorted(SEVERITY)}")
            iso_duration(str(rule["for"]))
        groups.append(RuleGroup(str(group["name"]), list(group.get("rules") or [])))
    if not groups:
        raise ConfigError(f"{path} holds no rule group")
    return groups


def iso_duration(text: str) -> str:
    """A Prometheus duration (1d2h3m4s, each part optional) as ISO 8601, e.g. 15m -> PT15M."""
    match = _DURATION.match(text)
    if not text or match is None:
        raise ConfigError(f"duration {text!r} is not days, hours, minutes or seconds, e.g. 15m")
    days, hours, minutes, seconds = match.groups()
    clock = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if v)
    return f"P{days + 'D' if days else ''}{'T' + clock if clock else ''}"


def azure_rule(
    rule: dict[str, Any], action_group_id: pulumi.Input[str] | None
) -> alertsmanagement.PrometheusRuleArgs:
    """One alerting rule as the API takes it."""
    labels = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
    return alertsmanagement.PrometheusRuleArgs(
        alert=str(rule["alert"]),
        expression=str(rule["expr"]),
        for_=iso_duration(str(rule["for"])),
        severity=SEVERITY[labels["severity"]],
        labels=labels,
        annotations={str(k): str(v) for k, v in (rule.get("annotations") or {}).items()},
        enabled=True,
        resolve_configuration=alertsmanagement.PrometheusRuleResolveConfigurationArgs(
            auto_resolved=True, time_to_resolve=RESOLVE_AFTER
        ),
        actions=(
            [alertsmanagement.PrometheusRuleGroupActionArgs(action_group_id=action_group_id)]
            if action_group_id is not None
            else None
        ),
    )
