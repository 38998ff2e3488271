"""CI's trust zones: who may log in as which identity, and what each identity may change.

One `Target` per identity GitHub Actions logs in as. Each deploys into one resource group the
bootstrap creates, writes only its own stacks' state, and trusts only the GitHub token subjects
listed (docs.github.com "About security hardening with OpenID Connect", subject claims):

- `deploy` updates `dev`. Only jobs in the GitHub environment `dev` can present its subject; the
  docs/deploy/azure-setup.md restricts that environment to `main` with a deployment branch policy.
- `pr` previews `dev` (read-only) and creates, updates and destroys the `pr-<n>` stacks, which
  share one group. Pull requests present `pull_request`; the scheduled sweep of stale PR stacks
  runs on the default branch without an environment and presents `ref:refs/heads/<branch>`.
- `prod` updates `prod` on Azure Container Apps. Only jobs in the GitHub environment `prod` can
  present its subject (restrict it to `main` and add reviewers there). It reads dev's group:
  the rollout imports the image dev deployed and smoke-tested into prod's registry, and
  `az acr import` needs read and pull on the source registry (learn.microsoft.com "Import
  container images to a container registry", same tenant: the source-side actions of
  "Container Registry Data Importer and Data Reader", `registries/read` and
  `registries/pull/read`). Reader's `*/read` holds both on a registry in the default "RBAC
  registry permissions" mode, and not that role's `importImage/action`, which on dev's group
  would let prod write into dev's registry. Its rollout's gate queries the metrics in prod's
  Azure Monitor workspace (infra/rollout/gate.py), which needs "Monitoring Data Reader" there:
  granted on prod's group, since the app stack creates the workspace after the bootstrap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from infra import naming


@dataclass(frozen=True)
class Target:
    """One CI identity and everything it is trusted with."""

    key: str  # identity id-<project>-<key>; role assignment names start with it
    variable: str  # the GitHub repository variable that carries its client id
    subjects: Mapping[str, str]  # federated credential name -> token subject
    group: str  # the resource group its stacks deploy into (its only ARM write scope)
    stacks: tuple[str, ...]  # stack names or patterns whose state it may write
    reads: tuple[str, ...] = ()  # other groups it may read (Reader), e.g. dev for the preview
    initialises_backend: bool = False  # may write .pulumi/meta.yaml (the first login does)
    platform: str = "aci"  # what its stacks run on, which decides its deployer role
    queries_metrics: bool = False  # reads the Azure Monitor workspaces in its group (the gate)


def targets(
    project: str, repository: str, branch: str, environment: str, prod_environment: str = "prod"
) -> tuple[Target, ...]:
    """The deploy, pull-request and prod targets for this repository."""
    dev_group = naming.target_group_name(project, "dev")
    return (
        Target(
            key="deploy",
            variable="AZURE_CLIENT_ID",
            subjects={f"environment-{environment}": f"repo:{repository}:environment:{environment}"},
            group=dev_group,
            stacks=("dev",),
            initialises_backend=True,
        ),
        Target(
            key="pr",
            variable="AZURE_PR_CLIENT_ID",
            subjects={
                "pull-requests": f"repo:{repository}:pull_request",
                "pr-stack-sweep": f"repo:{repository}:ref:refs/heads/{branch}",
            },
            group=naming.target_group_name(project, "pr"),
            stacks=("pr-*",),
            reads=(dev_group,),
        ),
        Target(
            key="prod",
            variable="AZURE_PROD_CLIENT_ID",
            subjects={
                f"environment-{prod_environment}": (
                    f"repo:{repository}:environment:{prod_environment}"
                )
            },
            group=naming.target_group_name(project, "prod"),
            stacks=("prod",),
            reads=(dev_group,),
            platform="containerapps",
            queries_metrics=True,
        ),
    )
