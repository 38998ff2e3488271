"""Where the service's logs outlive its containers: one Log Analytics workspace per stack.

Both platforms write there: Azure Container Instances through the container group's
diagnostics (workspace id and key; learn.microsoft.com "Container group and instance logging
with Azure Monitor logs", table ContainerInstanceLog_CL), Azure Container Apps through a
diagnostic setting on its environment (destination `azure-monitor`; learn.microsoft.com "Log
storage and monitoring options in Azure Container Apps", categories ContainerAppConsoleLogs and
ContainerAppSystemLogs), which needs no key at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
from pulumi_azure_native import monitor, operationalinsights

# Pay per GB ingested (no commitment): a quiet stack costs next to nothing. 30 days is the
# retention included in that price (learn.microsoft.com "Azure Monitor Logs pricing details").
SKU: Final = "PerGB2018"
RETENTION_DAYS: Final = 30
APPS_LOG_CATEGORIES: Final = ("ContainerAppConsoleLogs", "ContainerAppSystemLogs")


@dataclass(frozen=True)
class LogWorkspaceArgs:
    """Inputs of `LogWorkspace`."""

    resource_group_name: pulumi.Input[str]
    location: str
    workspace_name: str
    tags: dict[str, str]


class LogWorkspace(pulumi.ComponentResource):
    """A Log Analytics workspace, and the two ways the platforms reach it."""

    workspace: operationalinsights.Workspace

    def __init__(
        self, name: str, args: LogWorkspaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("banknote:app:LogWorkspace", name, None, opts)
        self._args = args
        self.workspace = operationalinsights.Workspace(
            "workspace",
            workspace_name=args.workspace_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=operationalinsights.WorkspaceSkuArgs(name=SKU),
            retention_in_days=RETENTION_DAYS,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"workspace_id": self.workspace.id})

    def shared_key(self) -> pulumi.Output[str]:
        """The workspace's primary key, read from Azure at deploy time and kept a secret.

        Only Azure Container Instances needs it: its diagnostics take no other credential.
        """
        keys = operationalinsights.get_shared_keys_output(
            resource_group_name=self._args.resource_group_name,
            workspace_name=self.workspace.name,
        )
        return pulumi.Output.secret(keys.primary_shared_key.apply(lambda key: key or ""))

    def diagnostics_for(
        self, name: str, resource_id: pulumi.Input[str], parent: pulumi.Resource
    ) -> monitor.DiagnosticSetting:
        """Send a Container Apps environment's console and system logs here (no key involved)."""
        return monitor.DiagnosticSetting(
            name,
            name="logs-to-workspace",
            resource_uri=resource_id,
            workspace_id=self.workspace.id,
            # Resource-specific tables (ContainerAppConsoleLogs, ...), not AzureDiagnostics.
            log_analytics_destination_type="Dedicated",
            logs=[
                monitor.DiagnosticsLogSettingsArgs(category=category, enabled=True)
                for category in APPS_LOG_CATEGORIES
            ],
            opts=pulumi.ResourceOptions(parent=parent),
        )
