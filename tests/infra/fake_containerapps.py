"""A stand-in for Azure Container Apps as the program and the rollout touch it: apps, their
revisions, the traffic list. The program reaches it through the mocks (its PUT, and the
`getContainerApp` invoke); the rollout through the `az` commands it runs
(tests/infra/rollout_world.py).

Modelled on Microsoft's documentation and the issues the code cites, and no kinder:
- A PUT whose template names a new suffix creates the revision `<app>--<suffix>`, active, and
  makes it the latest. A PUT that names the suffix of a revision that exists creates nothing:
  Azure ignores the template silently (microsoft/azure-container-apps#650), so the latest
  revision and what it runs stay as they were.
- A traffic list names existing revisions and its weights add up to 100 (learn.microsoft.com
  "Traffic splitting in Azure Container Apps": "The combined weight of all traffic split rules
  must equal 100%"); a list that breaks this is refused.
- A PATCH of the app is a JSON merge patch (REST API "Container Apps - Update": "Patches a
  Container App using JSON Merge Patch"; RFC 7386: a member that is an array replaces the old
  one), so a PATCH of `properties.configuration.ingress.traffic` replaces the whole list.
- `az containerapp revision deactivate` makes a revision inactive; `revision list` shows each
  revision's `active` flag and traffic weight. Deactivating a revision that still has traffic
  is a mistake of the code under test, and fails the test.
- A GET of an app that does not exist is an error (the provider's invoke returns it as one).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
DOMAIN = "kindpond-1a2b3c4d.westeurope.azurecontainerapps.io"


class AzureError(Exception):
    """What Azure answers with an error status."""


@dataclass
class Revision:
    name: str
    template: dict[str, Any]  # as sent, without its suffix
    active: bool = True
    created: int = 0


@dataclass
class App:
    name: str
    resource_group: str
    revisions: dict[str, Revision] = field(default_factory=dict)
    traffic: list[dict[str, Any]] = field(default_factory=list)
    latest_revision: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.App/containerApps/{self.name}"
        )

    def latest_template(self) -> dict[str, Any]:
        return self.revisions[self.latest_revision].template if self.latest_revision else {}


@dataclass
class FakeContainerApps:
    """Every app of the subscription, by (resource group, name)."""

    apps: dict[tuple[str, str], App] = field(default_factory=dict)
    puts: int = 0
    # A fault a test sets: the PUT's changes are made, then the operation reports a failure (a
    # revision that Azure created but could not provision, say).
    fail_after_put: bool = False

    def app(self, resource_group: str, name: str) -> App:
        found = self.apps.get((resource_group, name))
        if found is None:
            raise AzureError(
                f"(ResourceNotFound) The Resource 'Microsoft.App/containerApps/{name}' under "
                f"resource group '{resource_group}' was not found."
            )
        return found

    def by_id(self, resource_id: str) -> App:
        for candidate in self.apps.values():
            if candidate.id.lower() == resource_id.lower():
                return candidate
        raise AzureError(f"(ResourceNotFound) {resource_id} was not found.")

    # -- what the program sends -----------------------------------------------------------------
    def put(self, inputs: dict[str, Any]) -> App:
        """The provider's PUT of the app (create or update), with the inputs on the wire."""
        self.puts += 1
        group, name = inputs["resourceGroupName"], inputs["containerAppName"]
        target = self.apps.get((group, name)) or App(name, group)
        template = copy.deepcopy(inputs["template"])
        suffix = template.pop("revisionSuffix")
        revision = f"{name}--{suffix}"
        created = revision not in target.revisions
        traffic = copy.deepcopy(inputs["configuration"]["ingress"]["traffic"])
        self._check_traffic(target, traffic, also=revision if created else None)
        if created:
            # microsoft/azure-container-apps#650: only a suffix never seen makes a revision.
            target.revisions[revision] = Revision(revision, template, created=len(target.revisions))
            target.latest_revision = revision
        target.traffic = [_entry(t) for t in traffic]
        target.tags = dict(inputs.get("tags") or {})
        self.apps[(group, name)] = target
        if self.fail_after_put:
            raise AzureError(f"(ContainerAppOperationError) provisioning {revision} failed")
        return target

    # -- what the program and the rollout read ---------------------------------------------------
    def show(self, resource_group: str, name: str) -> dict[str, Any]:
        """The app as ARM's GET returns it (`az containerapp show`)."""
        found = self.app(resource_group, name)
        return {
            "id": found.id,
            "name": found.name,
            "tags": dict(found.tags),
            "properties": {
                "latestRevisionName": found.latest_revision,
                "configuration": {
                    "activeRevisionsMode": "Multiple",
                    "ingress": {
                        "fqdn": f"{found.name}.{DOMAIN}",
                        "traffic": copy.deepcopy(found.traffic),
                    },
                },
                "template": copy.deepcopy(found.latest_template()),
            },
        }

    def invoke(self, resource_group: str, name: str) -> dict[str, Any]:
        """The same, as the provider's invoke returns it (`properties` flattened)."""
        shown = self.show(resource_group, name)
        return {
            "id": shown["id"],
            "name": shown["name"],
            "tags": shown["tags"],
            **shown["properties"],
        }

    def revision_list(self, resource_group: str, name: str) -> list[dict[str, Any]]:
        """`az containerapp revision list`: every revision kept, with `active` and its weight."""
        found = self.app(resource_group, name)
        weights = {t["revisionName"]: int(t["weight"]) for t in found.traffic}
        return [
            {
                "name": r.name,
                "properties": {
                    "active": r.active,
                    "trafficWeight": weights.get(r.name, 0),
                    "createdTime": f"2026-12-01T00:{r.created:02d}:00+00:00",
                    "template": copy.deepcopy(r.template),
                },
            }
            for r in sorted(found.revisions.values(), key=lambda r: r.created)
        ]

    # -- what the rollout changes -------------------------------------------------------------
    def patch(self, resource_id: str, body: dict[str, Any]) -> None:
        """A JSON merge patch of the app; the rollout patches only the traffic list."""
        target = self.by_id(resource_id)
        traffic = body["properties"]["configuration"]["ingress"]["traffic"]
        assert set(body) == {"properties"}, body
        self._check_traffic(target, traffic)
        target.traffic = [_entry(t) for t in traffic]  # an array member replaces the old one

    def deactivate(self, resource_group: str, name: str, revision: str) -> None:
        found = self.app(resource_group, name)
        if revision not in found.revisions:
            raise AzureError(f"(ContainerAppRevisionNotFound) Revision '{revision}' not found")
        weight = sum(int(t["weight"]) for t in found.traffic if t["revisionName"] == revision)
        assert weight == 0, f"deactivated {revision}, which still has {weight} % of the traffic"
        found.revisions[revision].active = False

    # -- for assertions -----------------------------------------------------------------------
    def split(self, resource_group: str, name: str) -> list[tuple[str, int, str]]:
        """The traffic list as (revision, weight, label) tuples."""
        return [
            (t["revisionName"], int(t["weight"]), t.get("label") or "")
            for t in self.app(resource_group, name).traffic
        ]

    def active(self, resource_group: str, name: str) -> set[str]:
        return {r.name for r in self.app(resource_group, name).revisions.values() if r.active}

    @staticmethod
    def _check_traffic(target: App, traffic: list[dict[str, Any]], also: str | None = None) -> None:
        known = set(target.revisions) | ({also} if also else set())
        missing = [t["revisionName"] for t in traffic if t["revisionName"] not in known]
        if missing:
            raise AzureError(f"(ContainerAppRevisionNotFound) revision(s) {missing} not found")
        total = sum(int(t["weight"]) for t in traffic)
        if total != 100:
            raise AzureError(f"(ContainerAppInvalidTrafficWeight) weights add up to {total}")
        labels = [t["label"] for t in traffic if t.get("label")]
        assert len(labels) == len(set(labels)), f"a label on two revisions: {traffic}"


def _entry(wire: dict[str, Any]) -> dict[str, Any]:
    entry = {"revisionName": wire["revisionName"], "weight": int(wire["weight"])}
    if wire.get("label"):
        entry["label"] = wire["label"]
    return entry
