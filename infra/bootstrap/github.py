"""The identity GitHub Actions logs in as: a user-assigned managed identity trusting GitHub's
OIDC tokens for this repository only. No client secret exists to leak or rotate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
from pulumi_azure_native import managedidentity

ISSUER: Final = "https://token.actions.githubusercontent.com"
AUDIENCE: Final = "api://AzureADTokenExchange"


def subjects(repository: str, branch: str, environment: str) -> dict[str, str]:
    """The token subjects to trust, by credential name (GitHub's OIDC subject formats).

    A job that names an `environment:` presents the environment subject, not the branch one.
    """
    return {
        "main-branch": f"repo:{repository}:ref:refs/heads/{branch}",
        "pull-requests": f"repo:{repository}:pull_request",
        f"environment-{environment}": f"repo:{repository}:environment:{environment}",
    }


@dataclass(frozen=True)
class GitHubIdentityArgs:
    """Inputs of `GitHubIdentity`."""

    resource_group_name: pulumi.Input[str]
    identity_name: str
    location: str
    repository: str
    branch: str
    environment: str
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
            "github",
            resource_name_=args.identity_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.credentials = []
        previous: list[pulumi.Resource] = []
        for credential_name, subject in subjects(
            args.repository, args.branch, args.environment
        ).items():
            credential = managedidentity.FederatedIdentityCredential(
                credential_name,
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
