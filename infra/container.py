"""The container group that runs the service: Linux, port 8000 only, probes, pull by identity."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

import pulumi
from pulumi_azure_native import containerinstance as aci
from pulumi_azure_native import containerregistry

from infra.config import AppConfig
from infra.monitoring import LogWorkspace
from infra.sidecar import Sidecar

PORT: Final = 8000  # the service contract; the original opened 80 with nothing listening
CONTAINER_NAME: Final = "api"

# A fresh AcrPull assignment can take minutes to reach the registry; until then ACI reports
# the image as inaccessible. Retrying the create/update is the documented remedy.
PULL_RETRY_ATTEMPTS: Final = 6
PULL_RETRY_DELAY_SECONDS: Final = 30.0
_PULL_ERRORS: Final = ("InaccessibleImage", "unauthorized", "denied", "RegistryErrorResponse")


@dataclass(frozen=True)
class ApiContainerArgs:
    """Inputs of `ApiContainerGroup`."""

    cfg: AppConfig
    resource_group_name: pulumi.Input[str]
    registry: containerregistry.Registry
    login_server: pulumi.Input[str]
    identity_id: pulumi.Input[str]
    pull_grant: pulumi.Resource  # the identity's AcrPull assignment
    image: pulumi.Input[str]
    tags: dict[str, str]
    logs: LogWorkspace | None = None  # where the container's output is kept after a restart
    sidecar: Sidecar | None = None  # runs next to the service in the group (the shipper)


def environment(cfg: AppConfig) -> dict[str, str]:
    """The service's environment (names from the service contract)."""
    return {
        "HOST": "0.0.0.0",  # inside the container; ACI exposes only PORT
        "PORT": str(PORT),
        "WORKERS": str(cfg.workers),
        "LOG_LEVEL": cfg.log_level,
    }


def registry_credentials(args: ApiContainerArgs) -> aci.ImageRegistryCredentialArgs:
    """How ACI pulls: the user-assigned identity, or (registryAuth: admin) the admin user,
    whose password is read from Azure at deploy time and kept as a Pulumi secret."""
    if args.cfg.registry_auth == "identity":
        return aci.ImageRegistryCredentialArgs(server=args.login_server, identity=args.identity_id)
    creds = containerregistry.list_registry_credentials_output(
        registry_name=args.registry.name, resource_group_name=args.resource_group_name
    )
    password = creds.passwords.apply(lambda pw: pw[0].value if pw and pw[0].value else "")
    return aci.ImageRegistryCredentialArgs(
        server=args.login_server,
        username=creds.username.apply(lambda name: name or ""),
        password=pulumi.Output.secret(password),
    )


def diagnostics(logs: LogWorkspace | None) -> aci.ContainerGroupDiagnosticsArgs | None:
    """Container output to the stack's Log Analytics workspace: ACI itself keeps the logs of
    the current container only, and loses them when the group is replaced."""
    if logs is None:
        return None
    return aci.ContainerGroupDiagnosticsArgs(
        log_analytics=aci.LogAnalyticsArgs(
            workspace_id=logs.workspace.customer_id,
            workspace_key=logs.shared_key(),
            workspace_resource_id=logs.workspace.id,
            log_type=aci.LogAnalyticsLogType.CONTAINER_INSTANCE_LOGS,
        )
    )


def sidecar_container(sidecar: Sidecar) -> aci.ContainerArgs:
    """A second container of the group: it shares the group's localhost and exposes no port."""
    return aci.ContainerArgs(
        name=sidecar.name,
        image=sidecar.image,
        command=list(sidecar.command),
        environment_variables=[
            aci.EnvironmentVariableArgs(name=key, value=value) for key, value in sidecar.env.items()
        ],
        resources=aci.ResourceRequirementsArgs(
            requests=aci.ResourceRequestsArgs(cpu=sidecar.cpu, memory_in_gb=sidecar.memory_gb)
        ),
    )


async def _retry_image_pull(hook_args: pulumi.ErrorHookArgs) -> bool:
    """Error hook: retry a failed create/update while the AcrPull grant propagates."""
    latest = hook_args.errors[0] if hook_args.errors else ""
    if hook_args.failed_operation == "delete" or len(hook_args.errors) >= PULL_RETRY_ATTEMPTS:
        return False
    if not any(marker.lower() in latest.lower() for marker in _PULL_ERRORS):
        return False
    await asyncio.sleep(PULL_RETRY_DELAY_SECONDS)
    return True


# The same remedy for Azure Container Apps, whose revision reports the pull as UNAUTHORIZED.
retry_image_pull = _retry_image_pull


class ApiContainerGroup(pulumi.ComponentResource):
    """One Linux container group running the image by digest, with a stable public DNS label."""

    group: aci.ContainerGroup
    fqdn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ApiContainerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("banknote:app:ApiContainerGroup", name, None, opts)
        cfg = args.cfg
        retry = pulumi.ErrorHook("retry-image-pull", _retry_image_pull)

        self.group = aci.ContainerGroup(
            "group",
            container_group_name=cfg.dns_label,
            resource_group_name=args.resource_group_name,
            location=cfg.location,
            os_type=aci.OperatingSystemTypes.LINUX,
            restart_policy=aci.ContainerGroupRestartPolicy.ALWAYS,
            sku=aci.ContainerGroupSku.STANDARD,
            identity=aci.ContainerGroupIdentityArgs(
                type=aci.ResourceIdentityType.USER_ASSIGNED,
                user_assigned_identities=[args.identity_id],
            ),
            image_registry_credentials=[registry_credentials(args)],
            containers=[
                aci.ContainerArgs(
                    name=CONTAINER_NAME,
                    image=args.image,
                    ports=[
                        aci.ContainerPortArgs(port=PORT, protocol=aci.ContainerNetworkProtocol.TCP)
                    ],
                    environment_variables=[
                        aci.EnvironmentVariableArgs(name=key, value=value)
                        for key, value in environment(cfg).items()
                    ],
                    resources=aci.ResourceRequirementsArgs(
                        requests=aci.ResourceRequestsArgs(cpu=cfg.cpu, memory_in_gb=cfg.memory_gb)
                    ),
                    liveness_probe=aci.ContainerProbeArgs(
                        http_get=aci.ContainerHttpGetArgs(path="/health", port=PORT, scheme="http"),
                        initial_delay_seconds=10,
                        period_seconds=10,
                        failure_threshold=3,
                        timeout_seconds=5,
                    ),
                    readiness_probe=aci.ContainerProbeArgs(
                        http_get=aci.ContainerHttpGetArgs(path="/ready", port=PORT, scheme="http"),
                        initial_delay_seconds=5,
                        period_seconds=5,
                        failure_threshold=3,
                        timeout_seconds=5,
                    ),
                ),
                *([sidecar_container(args.sidecar)] if args.sidecar is not None else []),
            ],
            ip_address=aci.IpAddressArgs(
                type=aci.ContainerGroupIpAddressType.PUBLIC,
                ports=[aci.PortArgs(port=PORT, protocol=aci.ContainerGroupNetworkProtocol.TCP)],
                dns_name_label=cfg.dns_label,
                auto_generated_domain_name_label_scope=cfg.dns_reuse_scope,
            ),
            diagnostics=diagnostics(args.logs),
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The group pulls with the identity, so its grant must exist first, and the
                # sidecar's needs (its image's cache rule, its publisher role) too.
                depends_on=[
                    args.pull_grant,
                    *(args.sidecar.depends_on if args.sidecar is not None else ()),
                ],
                # The name is fixed (stable URL), so a replacement must delete first.
                delete_before_replace=True,
                hooks=pulumi.ResourceHookBinding(on_error=[retry]),
            ),
        )
        self.fqdn = self.group.ip_address.apply(lambda ip: (ip.fqdn if ip else None) or "")
        self.register_outputs({"fqdn": self.fqdn})
