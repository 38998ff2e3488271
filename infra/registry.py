"""The private registry and the identity that may pull from it (AcrPull), as one component."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, containerregistry, managedidentity

from infra import roles


@dataclass(frozen=True)
class RegistryArgs:
    """Inputs of `PrivateRegistry`."""

    resource_group_name: pulumi.Input[str]
    location: str
    registry_name: str
    identity_name: str
    sku: str
    admin_user_enabled: bool
    subscription_id: str
    tags: dict[str, str]


class PrivateRegistry(pulumi.ComponentResource):
    """A container registry, a user-assigned identity, and AcrPull for that identity on it.

    The identity is what the container group pulls with, so no registry password exists.
    The admin user stays disabled unless `registryAuth: admin` asks for it.
    """

    registry: containerregistry.Registry
    identity: managedidentity.UserAssignedIdentity
    acr_pull: authorization.RoleAssignment
    login_server: pulumi.Output[str]

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("banknote:app:PrivateRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.registry = containerregistry.Registry(
            "registry",
            registry_name=args.registry_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=containerregistry.SkuArgs(name=args.sku),
            admin_user_enabled=args.admin_user_enabled,
            tags=args.tags,
            opts=child,
        )
        self.identity = managedidentity.UserAssignedIdentity(
            "pull-identity",
            resource_name_=args.identity_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=args.tags,
            opts=child,
        )
        self.acr_pull = authorization.RoleAssignment(
            "acr-pull",
            principal_id=self.identity.principal_id,
            # Setting the type lets ARM accept a principal that Entra ID has not replicated yet.
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=roles.role_definition_id(args.subscription_id, roles.ACR_PULL),
            scope=self.registry.id,
            opts=child,
        )
        self.login_server = self.registry.login_server
        self.register_outputs(
            {
                "login_server": self.login_server,
                "registry_id": self.registry.id,
                "identity_id": self.identity.id,
            }
        )
