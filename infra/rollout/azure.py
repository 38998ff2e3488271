"""The Azure CLI calls the rollout makes: read the app and its revisions, move traffic, deactivate.

The Pulumi provider has no revision resource, and the program never moves a weight
(infra/revisions.py `declare`), so these are the only writes to the traffic list:

- `az containerapp show` and `az containerapp revision list` (active revisions only unless
  `--all` is given) read what Azure runs.
- Traffic moves with one PATCH of the app through `az rest` (a URL that starts with `/` is taken
  as a resource id on the current cloud's Resource Manager endpoint): "Container Apps - Update"
  patches with JSON Merge Patch, where an array replaces the old one (RFC 7386), so the whole
  list, weights and labels, changes in one request. `az containerapp ingress traffic set`
  would only re-weight entries and keep every label where it was (azure-cli containerapp
  `_update_revision_weights`), which takes several non-atomic calls to move a label.
- `az containerapp revision deactivate`: an inactive revision runs no replica and costs nothing.
- `az account get-access-token --resource`: the Entra token the gate's queries carry.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from infra.container import CONTAINER_NAME
from infra.revisions import ROLLOUT_TAG, LiveApp, Traffic

API_VERSION: Final = "2025-01-01"  # Microsoft.App, GA

# az(*args, echo=True): run `az <args>`; echo=False keeps its output out of the job's log.
Az = Callable[..., "subprocess.CompletedProcess[str]"]


class AzureCliError(Exception):
    """An `az` command failed; its own output has been echoed."""


@dataclass(frozen=True)
class AppRef:
    """Which app: its name and group (stack outputs that never change once it exists)."""

    name: str
    resource_group: str


@dataclass(frozen=True)
class Shown:
    """The app as Azure has it now."""

    id: str
    live: LiveApp
    fqdn: str


@dataclass(frozen=True)
class RevisionInfo:
    """An active revision: its name, its traffic weight and the image it runs."""

    name: str
    weight: int
    image: str


def parse_show(shown: dict[str, Any]) -> Shown:
    """`az containerapp show` JSON -> `Shown`."""
    properties = shown.get("properties") or {}
    ingress = (properties.get("configuration") or {}).get("ingress") or {}
    traffic = tuple(
        Traffic(
            str(t.get("revisionName") or ""), int(t.get("weight") or 0), str(t.get("label") or "")
        )
        for t in ingress.get("traffic") or []
    )
    return Shown(
        id=str(shown["id"]),
        live=LiveApp(
            traffic=traffic,
            latest_revision=str(properties.get("latestRevisionName") or ""),
            image=_image(properties.get("template") or {}),
            rollout_id=str((shown.get("tags") or {}).get(ROLLOUT_TAG, "")),
        ),
        fqdn=str(ingress.get("fqdn") or ""),
    )


def _image(template: dict[str, Any]) -> str:
    containers = template.get("containers") or []
    return next((str(c.get("image")) for c in containers if c.get("name") == CONTAINER_NAME), "")


class ContainerApps:
    """The Container Apps commands, through `az` (a function that runs `az <args>`)."""

    def __init__(self, az: Az) -> None:
        self._az = az

    def _json(self, *args: str) -> Any:
        # Read-only answers are parsed, not shown: the job's log says what they meant.
        result = self._az(*args, "--output", "json", echo=False)
        if result.returncode != 0:
            raise AzureCliError(f"az {' '.join(args[:3])} failed (its output is above)")
        return json.loads(result.stdout or "null")

    def show(self, app: AppRef) -> Shown:
        """The app's traffic list, latest revision, image and rollout tag."""
        found = self._json(
            "containerapp", "show", "--name", app.name, "--resource-group", app.resource_group
        )
        return parse_show(found)

    def active_revisions(self, app: AppRef) -> list[RevisionInfo]:
        """The active revisions, oldest first."""
        listed = self._json(
            "containerapp", "revision", "list",
            "--name", app.name, "--resource-group", app.resource_group,
        )  # fmt: skip
        return [
            RevisionInfo(
                name=str(r["name"]),
                weight=int((r.get("properties") or {}).get("trafficWeight") or 0),
                image=_image((r.get("properties") or {}).get("template") or {}),
            )
            for r in listed
            if (r.get("properties") or {}).get("active")
        ]

    def revision_count(self, app: AppRef) -> int:
        """How many revisions Azure keeps for the app, inactive ones included (`--all`)."""
        listed = self._json(
            "containerapp", "revision", "list", "--all",
            "--name", app.name, "--resource-group", app.resource_group,
        )  # fmt: skip
        return len(listed)

    def set_traffic(self, app_id: str, entries: Sequence[Traffic]) -> None:
        """Replace the whole traffic list (weights and labels) in one request."""
        body = {
            "properties": {
                "configuration": {
                    "ingress": {
                        "traffic": [
                            {"revisionName": t.revision_name, "weight": t.weight}
                            | ({"label": t.label} if t.label else {})
                            for t in entries
                        ]
                    }
                }
            }
        }
        result = self._az(
            "rest", "--method", "patch",
            "--url", f"{app_id}?api-version={API_VERSION}",
            "--body", json.dumps(body),
        )  # fmt: skip
        if result.returncode != 0:
            raise AzureCliError("az rest (the traffic PATCH) failed (its output is above)")

    def deactivate(self, app: AppRef, revision: str) -> bool:
        """Deactivate one revision; False if Azure refused."""
        result = self._az(
            "containerapp", "revision", "deactivate",
            "--name", app.name, "--resource-group", app.resource_group,
            "--revision", revision,
        )  # fmt: skip
        return result.returncode == 0

    def token(self, resource: str) -> str:
        """An access token for `resource` from the CLI's login (cached since the job's login)."""
        result = self._az(
            "account", "get-access-token", "--resource", resource,
            "--query", "accessToken", "--output", "tsv",
            echo=False,
        )  # fmt: skip
        if result.returncode != 0 or not result.stdout.strip():
            raise AzureCliError(f"no token for {resource} from the Azure CLI's login")
        return result.stdout.strip()
