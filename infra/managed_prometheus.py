"""Where every replica's metrics go, and what watches them (config `monitoring`): an Azure Monitor
workspace (managed Prometheus), the data collection endpoint and rule its ingestion needs, the
publisher role for the app's identity, the shipper's image cached in the stack's registry, the
alert rules of monitoring/alerts.yml, an optional action group, and the dashboard.

Choices, and why:
- Our own data collection endpoint and rule, not the workspace's default ones: Azure creates those
  in a managed resource group, MA_<workspace>_<region>_managed (learn.microsoft.com "Manage an
  Azure Monitor workspace"; MicrosoftDocs/azure-docs#106279), outside the one group CI's deployer
  roles reach, so CI could not grant the publisher role on that rule. Declared here they sit in the
  stack's group; their shape is Microsoft's own for Prometheus remote write (Azure/
  prometheus-collector AddonArmTemplate/FullAzureMonitorMetricsProfile.json: kind Linux, a
  prometheusForwarder source of Microsoft-PrometheusMetrics, a monitoringAccounts destination).
- Monitoring Metrics Publisher on that rule only, for the app's user-assigned identity (the one
  that pulls its images): it may write metrics there and nowhere else ("Send Prometheus metrics
  ... to an Azure Monitor workspace": assign the role on the workspace's data collection rule).
- The shipper's image reaches the stack's registry through an ACR cache rule from Quay, and every
  replica pulls it from there with the same identity as the service image, by digest: no
  anonymous pull from a public registry at run time, no copy step in the rollout, and no
  credential (Quay takes unauthenticated pulls; learn.microsoft.com "Optimize image pulls with
  artifact cache in Azure Container Registry", available in Basic, Standard and Premium).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
from pulumi_azure_native import (
    alertsmanagement,
    applicationinsights,
    authorization,
    containerregistry,
    monitor,
)

from infra import alert_rules, promql, roles, shipper, workbook
from infra.config import MonitoringConfig
from infra.registry import PrivateRegistry
from infra.sidecar import Sidecar

STREAM: Final = "Microsoft-PrometheusMetrics"
DESTINATION: Final = "MonitoringAccount1"
# Azure Monitor workspace and data collection endpoint names: up to 44 letters, digits and '-'.
NAME_MAX: Final = 44
GROUP_SHORT_NAME_MAX: Final = 12  # an action group's short name, shown in emails and SMS


@dataclass(frozen=True)
class ManagedPrometheusArgs:
    """Inputs of `ManagedPrometheus`."""

    monitoring: MonitoringConfig
    label: str  # the stack's DNS label: every name derives from it
    resource_group_name: pulumi.Input[str]
    location: str
    registry: PrivateRegistry
    subscription_id: str
    tags: dict[str, str]


def _name(prefix: str, label: str) -> str:
    return f"{prefix}-{label}"[:NAME_MAX].rstrip("-")


class ManagedPrometheus(pulumi.ComponentResource):
    """The workspace and everything that feeds it, alerts on it and shows it."""

    workspace: monitor.AzureMonitorWorkspace
    endpoint: monitor.DataCollectionEndpoint
    collection_rule: monitor.DataCollectionRule
    publisher: authorization.RoleAssignment
    shipper_image: containerregistry.CacheRule
    action_group: monitor.ActionGroup | None
    rule_groups: list[alertsmanagement.PrometheusRuleGroup]
    dashboard: applicationinsights.Workbook
    query_endpoint: pulumi.Output[str]
    write_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: ManagedPrometheusArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("banknote:app:ManagedPrometheus", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        group, location, tags = args.resource_group_name, args.location, args.tags

        self.workspace = monitor.AzureMonitorWorkspace(
            "workspace",
            azure_monitor_workspace_name=_name("amw", args.label),
            resource_group_name=group,
            location=location,
            tags=tags,
            opts=child,
        )
        self.endpoint = monitor.DataCollectionEndpoint(
            "ingestion-endpoint",
            data_collection_endpoint_name=_name("dce", args.label),
            kind=monitor.KnownDataCollectionEndpointResourceKind.LINUX,
            resource_group_name=group,
            location=location,
            tags=tags,
            opts=child,
        )
        self.collection_rule = monitor.DataCollectionRule(
            "ingestion-rule",
            data_collection_rule_name=_name("dcr", args.label),
            resource_group_name=group,
            location=location,
            tags=tags,
            kind=monitor.KnownDataCollectionRuleResourceKind.LINUX,
            description="Prometheus remote write from the service's replicas (metrics shipper)",
            data_collection_endpoint_id=self.endpoint.id,
            data_sources=monitor.DataCollectionRuleDataSourcesArgs(
                prometheus_forwarder=[
                    monitor.PrometheusForwarderDataSourceArgs(
                        name="PrometheusDataSource", streams=[STREAM], label_include_filter={}
                    )
                ]
            ),
            destinations=monitor.DataCollectionRuleDestinationsArgs(
                monitoring_accounts=[
                    monitor.MonitoringAccountDestinationArgs(
                        account_resource_id=self.workspace.id, name=DESTINATION
                    )
                ]
            ),
            data_flows=[monitor.DataFlowArgs(streams=[STREAM], destinations=[DESTINATION])],
            opts=child,
        )
        self.publisher = authorization.RoleAssignment(
            "metrics-publisher",
            principal_id=args.registry.identity.principal_id,
            # Setting the type lets ARM accept a principal that Entra ID has not replicated yet.
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=roles.role_definition_id(
                args.subscription_id, roles.MONITORING_METRICS_PUBLISHER
            ),
            scope=self.collection_rule.id,
            opts=child,
        )
        self.shipper_image = containerregistry.CacheRule(
            "shipper-image",
            cache_rule_name=shipper.REPOSITORY,
            registry_name=args.registry.registry.name,
            resource_group_name=group,
            source_repository=shipper.UPSTREAM_REPOSITORY,
            target_repository=shipper.REPOSITORY,
            opts=child,
        )
        self.action_group = self._action_group()
        action_group_id = self.action_group.id if self.action_group is not None else None
        self.rule_groups = [
            alertsmanagement.PrometheusRuleGroup(
                f"rules-{rules.name}",
                rule_group_name=f"{args.label}-{rules.name}",
                description=f"monitoring/alerts.yml, group {rules.name}",
                scopes=[self.workspace.id],
                enabled=True,
                interval=alert_rules.INTERVAL,
                rules=[alert_rules.azure_rule(rule, action_group_id) for rule in rules.rules],
                resource_group_name=group,
                location=location,
                tags=tags,
                opts=child,
            )
            for rules in alert_rules.load()
        ]
        self.dashboard = applicationinsights.Workbook(
            "dashboard",
            resource_name_=workbook.name(args.label),
            kind=applicationinsights.WorkbookSharedTypeKind.SHARED,
            category="workbook",
            display_name=f"{args.label} service",
            source_id=self.workspace.id,
            serialized_data=self.workspace.id.apply(
                lambda workspace_id: workbook.serialized(
                    f"{args.label}: requests, errors, latency, predictions, input drift",
                    promql.dashboard_panels(),
                    workspace_id,
                )
            ),
            resource_group_name=group,
            location=location,
            tags=tags,
            opts=child,
        )

        self.query_endpoint = self.workspace.metrics.apply(
            lambda metrics: metrics.prometheus_query_endpoint
        )
        # One apply per typed output: Output.all would rebuild the typed value as a plain dict.
        ingestion = self.endpoint.metrics_ingestion.apply(lambda m: m.endpoint if m else "")
        self.write_url = pulumi.Output.all(ingestion, self.collection_rule.immutable_id).apply(
            lambda pair: shipper.write_url(pair[0], pair[1] or "")
        )
        self.register_outputs(
            {
                "workspace_id": self.workspace.id,
                "query_endpoint": self.query_endpoint,
                "dashboard_id": self.dashboard.id,
            }
        )

    def _action_group(self) -> monitor.ActionGroup | None:
        """Where alerts go, when config names an email address or a webhook."""
        email, webhook = self._args.monitoring.alert_email, self._args.monitoring.alert_webhook
        label = self._args.label
        if email is None and webhook is None:
            return None
        emails = (
            [
                monitor.MicrosoftCommonEmailReceiverArgs(
                    name="email", email_address=email, use_common_alert_schema=True
                )
            ]
            if email is not None
            else None
        )
        hooks = (
            [
                monitor.WebhookReceiverArgs(
                    name="webhook",
                    # A webhook URL often carries its own token: a secret in the state too.
                    service_uri=pulumi.Output.secret(webhook),
                    use_common_alert_schema=True,
                )
            ]
            if webhook is not None
            else None
        )
        return monitor.ActionGroup(
            "alerts",
            action_group_name=_name("ag", label),
            group_short_name=label[:GROUP_SHORT_NAME_MAX].rstrip("-"),
            enabled=True,
            email_receivers=emails,
            webhook_receivers=hooks,
            resource_group_name=self._args.resource_group_name,
            # Action groups are global resources (learn.microsoft.com "Action groups").
            location="Global",
            tags=self._args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def sidecar(self, model_version: str, platform_env: dict[str, str] | None = None) -> Sidecar:
        """The shipper, ready to run next to the service in each replica."""
        registry = self._args.registry
        return shipper.sidecar(
            login_server=registry.login_server,
            remote_write_url=self.write_url,
            client_id=registry.identity.client_id,
            model_version=model_version,
            depends_on=(self.publisher, self.shipper_image),
            platform_env=platform_env,
        )
