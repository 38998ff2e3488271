"""The bootstrap project's configuration: keys, defaults, validation (before any resource)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, NoReturn

import pulumi

from infra.errors import ConfigError

DEFAULTS: Final[Mapping[str, str]] = {
    "location": "westeurope",
    "githubRepository": "",  # required: owner/name
    "githubBranch": "main",
    "githubEnvironment": "dev",
    "githubProdEnvironment": "prod",
    "appProject": "banknote",
    "developerPrincipalIds": "",  # comma-separated Entra object IDs, optional
    "keyVaultGeneration": "1",  # bump to start afresh while a deleted vault holds the name
}

_LOCATION = re.compile(r"^[a-z][a-z0-9]{2,39}$")
# GitHub: owner 1-39 letters, digits, hyphens; repository letters, digits, '.', '_', '-'.
_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class BootstrapConfig:
    """Validated bootstrap settings."""

    stack: str
    location: str
    github_repository: str
    github_branch: str
    github_environment: str
    github_prod_environment: str
    app_project: str
    developer_principal_ids: tuple[str, ...]
    key_vault_generation: int


def load() -> BootstrapConfig:
    """Read and validate the bootstrap stack's config."""
    config = pulumi.Config()
    raw = {key: config.get(key) for key in DEFAULTS}
    return parse(raw, stack=pulumi.get_stack())


def parse(raw: Mapping[str, str | None], *, stack: str) -> BootstrapConfig:
    """Validate raw config strings (missing or empty means the default)."""

    def get(key: str) -> str:
        value = raw.get(key)
        return DEFAULTS[key] if value is None or value.strip() == "" else value.strip()

    location = get("location")
    if not _LOCATION.match(location):
        _fail("location", location, "use the programmatic region name, e.g. 'westeurope'")
    repository = get("githubRepository")
    if not repository:
        raise ConfigError(
            "config githubRepository is required: "
            "`pulumi config set githubRepository <owner>/<repository>`"
        )
    if not _REPOSITORY.match(repository):
        _fail("githubRepository", repository, "expected <owner>/<repository>")
    branch = get("githubBranch")
    if not _BRANCH.match(branch) or ".." in branch:
        _fail("githubBranch", branch, "expected a branch name such as 'main'")
    environment = get("githubEnvironment")
    if not _ENVIRONMENT.match(environment):
        _fail("githubEnvironment", environment, "expected an environment name such as 'dev'")
    prod_environment = get("githubProdEnvironment")
    if not _ENVIRONMENT.match(prod_environment) or prod_environment == environment:
        _fail(
            "githubProdEnvironment",
            prod_environment,
            "expected an environment name such as 'prod', other than githubEnvironment",
        )
    project = get("appProject")
    if not _PROJECT.match(project):
        _fail("appProject", project, "expected the app's Pulumi project name, e.g. 'banknote'")
    developers = tuple(p.strip() for p in get("developerPrincipalIds").split(",") if p.strip())
    for principal in developers:
        if not _GUID.match(principal):
            _fail("developerPrincipalIds", principal, "expected Entra object IDs (GUIDs)")
    generation = get("keyVaultGeneration")
    if not generation.isdigit() or not 1 <= int(generation) <= 99:
        _fail("keyVaultGeneration", generation, "expected a whole number from 1 to 99")
    return BootstrapConfig(
        stack=stack,
        location=location,
        github_repository=repository,
        github_branch=branch,
        github_environment=environment,
        github_prod_environment=prod_environment,
        app_project=project,
        developer_principal_ids=developers,
        key_vault_generation=int(generation),
    )


def _fail(key: str, value: str, why: str) -> NoReturn:
    raise ConfigError(f"config {key}={value!r} is invalid: {why}")
