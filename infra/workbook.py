"""The dashboard: an Azure Monitor workbook whose charts are PromQL queries on the stack's Azure
Monitor workspace, one per panel of infra/promql.py `dashboard_panels` (the same queries the
tests evaluate on a real Prometheus).

Why a workbook and not Azure Managed Grafana: a workbook is an ARM resource whose whole content
is declared here and costs nothing beyond the queries it runs (learn.microsoft.com "Azure
Workbooks": no additional cost); a Grafana instance is billed per hour and per active user, and
its dashboards live in Grafana's own API, outside ARM and Pulumi's azure-native provider, which
would need a Grafana token in the stack. Workbooks query an Azure Monitor workspace with PromQL
directly (learn.microsoft.com "Query Prometheus metrics using Azure workbooks"; data source
Prometheus).

The item format is the workbook's serialized JSON as the portal saves it: a query item of
`queryType` 16 on `resourceType` microsoft.monitor/accounts, whose `query` is itself a JSON
string of version PrometheusQueryProvider/1.0 holding the PromQL (the form the portal writes;
the same in workbook templates published with Azure samples).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any, Final

from infra.promql import Panel

SCHEMA: Final = (
    "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json"
)
PROMETHEUS_QUERY: Final = 16
WORKSPACE_TYPE: Final = "microsoft.monitor/accounts"
TIME_RANGE: Final = "TimeRange"
DEFAULT_RANGE_MS: Final = 3 * 60 * 60 * 1000  # the last 3 hours


def name(label: str) -> str:
    """A workbook's resource name must be a GUID; derived, so every run finds the same one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"banknote/{label}/dashboard"))


def prometheus_item(panel: Panel, workspace_id: str) -> dict[str, Any]:
    """One chart: a PromQL range query on the workspace."""
    query = {
        "version": "PrometheusQueryProvider/1.0",
        "customEndpoint": False,
        "queryText": panel.query,
        "type": "query_range",
    }
    return {
        "type": 3,
        "name": panel.name,
        "content": {
            "version": "KqlItem/1.0",
            "title": panel.title,
            "query": json.dumps(query, separators=(",", ":")),
            "size": 0,
            "timeContextFromParameter": TIME_RANGE,
            "queryType": PROMETHEUS_QUERY,
            "resourceType": WORKSPACE_TYPE,
            "crossComponentResources": [workspace_id],
            "visualization": "timechart",
        },
        "customWidth": "50",
    }


def document(title: str, panels: Sequence[Panel], workspace_id: str) -> dict[str, Any]:
    """The workbook: a heading, a time range, then one chart per panel."""
    intro = (
        f"## {title}\n"
        "Every chart is per revision (Container Apps), from the metrics each replica's shipper "
        "sends to this Azure Monitor workspace. The alert rules and what to do first: "
        "docs/observability.md."
    )
    parameters = {
        "type": 9,
        "name": "parameters",
        "content": {
            "version": "KqlParameterItem/1.0",
            "parameters": [
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "banknote/dashboard/time-range")),
                    "version": "KqlParameterItem/1.0",
                    "name": TIME_RANGE,
                    "label": "Time range",
                    "type": 4,
                    "isRequired": True,
                    "value": {"durationMs": DEFAULT_RANGE_MS},
                    "typeSettings": {"allowCustom": True},
                }
            ],
        },
    }
    return {
        "version": "Notebook/1.0",
        "items": [
            {"type": 1, "name": "intro", "content": {"json": intro}},
            parameters,
            *(prometheus_item(panel, workspace_id) for panel in panels),
        ],
        "fallbackResourceIds": [workspace_id],
        "$schema": SCHEMA,
    }


def serialized(title: str, panels: Sequence[Panel], workspace_id: str) -> str:
    """The workbook's `serializedData`."""
    return json.dumps(document(title, panels, workspace_id), indent=2)
