"""Where Pulumi keeps app stack state (a blob container) and what encrypts its secrets (a Key
Vault key), so neither a Pulumi Cloud account nor a passphrase secret is needed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
from pulumi_azure_native import keyvault, resources, storage

STATE_CONTAINER: Final = "pulumi-state"
SECRETS_KEY: Final = "pulumi-secrets"
RETENTION_DAYS: Final = 30


@dataclass(frozen=True)
class StateArgs:
    """Inputs of `StateBackend`."""

    resource_group_name: str
    storage_account_name: str
    key_vault_name: str
    location: str
    tenant_id: str
    tags: dict[str, str]


class StateBackend(pulumi.ComponentResource):
    """Resource group, storage account + container for state, Key Vault + key for secrets."""

    group: resources.ResourceGroup
    account: storage.StorageAccount
    container: storage.BlobContainer
    vault: keyvault.Vault
    key: keyvault.Key
    container_scope: pulumi.Output[str]
    backend_url: pulumi.Output[str]
    secrets_provider: pulumi.Output[str]

    def __init__(
        self, name: str, args: StateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("banknote:bootstrap:StateBackend", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.group = resources.ResourceGroup(
            "rg",
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=args.tags,
            opts=child,
        )
        self.account = storage.StorageAccount(
            "state",
            account_name=args.storage_account_name,
            resource_group_name=self.group.name,
            location=args.location,
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
            # Entra ID only: no account keys, no anonymous blobs, TLS 1.2+.
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_blob_public_access=False,
            enable_https_traffic_only=True,
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            tags=args.tags,
            opts=child,
        )
        # Versions and soft delete make a bad `pulumi up` or a deleted checkpoint recoverable.
        storage.BlobServiceProperties(
            "state-versioning",
            account_name=self.account.name,
            resource_group_name=self.group.name,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy=storage.DeleteRetentionPolicyArgs(
                enabled=True, days=RETENTION_DAYS
            ),
            container_delete_retention_policy=storage.DeleteRetentionPolicyArgs(
                enabled=True, days=RETENTION_DAYS
            ),
            opts=child,
        )
        self.container = storage.BlobContainer(
            "state",
            container_name=STATE_CONTAINER,
            account_name=self.account.name,
            resource_group_name=self.group.name,
            public_access=storage.PublicAccess.NONE,
            opts=child,
        )
        self.vault = keyvault.Vault(
            "secrets",
            vault_name=args.key_vault_name,
            resource_group_name=self.group.name,
            location=args.location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
                # Azure RBAC instead of access policies: access is granted by role assignment.
                enable_rbac_authorization=True,
                # Losing this key loses every stack secret: keep deleted keys recoverable.
                enable_soft_delete=True,
                soft_delete_retention_in_days=90,
                enable_purge_protection=True,
            ),
            tags=args.tags,
            opts=child,
        )
        self.key = keyvault.Key(
            "secrets",
            key_name=SECRETS_KEY,
            vault_name=self.vault.name,
            resource_group_name=self.group.name,
            properties=keyvault.KeyPropertiesArgs(
                kty=keyvault.JsonWebKeyType.RSA,
                key_size=3072,
                key_ops=["encrypt", "decrypt", "wrapKey", "unwrapKey"],
            ),
            tags=args.tags,
            opts=child,
        )

        # The container's resource ID is the narrowest scope for the state role.
        self.container_scope = self.container.id
        self.backend_url = pulumi.Output.concat(
            "azblob://", STATE_CONTAINER, "?storage_account=", self.account.name
        )
        vault_host = self.vault.properties.apply(
            lambda p: p.vault_uri.removeprefix("https://").rstrip("/") if p.vault_uri else ""
        )
        self.secrets_provider = pulumi.Output.concat(
            "azurekeyvault://", vault_host, "/keys/", SECRETS_KEY
        )
        self.register_outputs(
            {"backend_url": self.backend_url, "secrets_provider": self.secrets_provider}
        )
