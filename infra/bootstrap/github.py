"""An identity GitHub Actions logs in as: a user-assigned managed identity trusting GitHub's
OIDC tokens with the given subjects only. No client secret exists to leak or rotate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pulumi
from pulumi_azure_native import managedidentity

ISSUER: Final = "https://token.actions.githubusercontent.com"
AUDIENCE: Final = "api://AzureADTokenExchange"


@dataclass(frozen=True)
class GitHubIdentityArgs:
    """Inputs of `GitHubIdentity`."""

    resource_group_name: pulumi.Input[str]
    identity_name: str
    location: str
    subjects: Mapping[str, str]  # federated credential name -> token subject
    tags: dict[str, str]


class GitHubIdentity(pulumi.ComponentResource):
    """The managed identity plus one federated credential per trusted subject."""

    identity: managedidentity.UserAssignedIdentity
    credentials: list[managedidentity.FederatedIdentityCredential]

    def __init__(
        self, name: str, args: GitHubIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("banknote:bootstrap:GitHubIdentity", name, None, opts)
        self.identity = managedidentity.UserAssignedIdentity(
            name,
            resource_name_=args.identity_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.credentials = []
        previous: list[pulumi.Resource] = []
        for credential_name, subject in args.subjects.items():
            credential = managedidentity.FederatedIdentityCredential(
                f"{name}-{credential_name}",
                federated_identity_credential_resource_name=credential_name,
                resource_name_=self.identity.name,
                resource_group_name=args.resource_group_name,
                issuer=ISSUER,
                audiences=[AUDIENCE],
                subject=subject,
                # Azure rejects concurrent credential writes on one identity: one at a time.
                opts=pulumi.ResourceOptions(parent=self, depends_on=previous),
            )
            self.credentials.append(credential)
            previous = [credential]
        self.register_outputs(
            {"client_id": self.identity.client_id, "principal_id": self.identity.principal_id}
        )
