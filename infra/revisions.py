"""Azure Container Apps revisions: the app's name, each revision's name, and the traffic split.

Pure functions, so the rules are tested on their own and the program (infra/containerapp.py)
and the rollout (infra/rollout/) agree on them. The rules, from Microsoft's documentation and
the service's behaviour:

- A container app's name is 2-32 lower-case letters, digits and '-', starting with a letter,
  ending with a letter or digit, without '--' (learn.microsoft.com "Naming rules and
  restrictions for Azure resources", Microsoft.App/containerApps).
- A revision is named `<app>--<suffix>`. The suffix is lower-case letters, digits and '-',
  starts with a letter, has no '--', and is at most 54 characters together with the app name
  (the API's check on `template.revisionSuffix`).
- A suffix cannot be reused: Azure ignores a template that names the suffix of an existing
  revision, silently (microsoft/azure-container-apps#650), so the template change is lost.
  The suffix therefore hashes the whole template that is sent, and the rollout id, which is
  new for every rollout.
- A traffic entry names a full revision name; a label's URL is
  `https://<app>---<label>.<environment default domain>` (learn.microsoft.com "Blue-Green
  Deployment in Azure Container Apps"), whatever the entry's weight.

The traffic split is not stack config: Azure's list is the truth (`LiveApp`), the program
declares it as it finds it, and only the rollout moves weights (infra/rollout/run.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from infra import naming

APP_NAME_MAX: Final = 32
REVISION_NAME_MAX: Final = 54  # app name + suffix (Azure's limit on revisionSuffix)
CANARY_LABEL: Final = "canary"
STABLE_LABEL: Final = "stable"
_HASH_LENGTH: Final = 8
# The app's tag naming the rollout that made its latest revision (read back by infra/live.py).
ROLLOUT_TAG: Final = "rollout-id"


@dataclass(frozen=True)
class Traffic:
    """One entry of `configuration.ingress.traffic`; `label` is "" when it has none."""

    revision_name: str
    weight: int
    label: str = ""


@dataclass(frozen=True)
class LiveApp:
    """What Azure says about the app now (the program's invoke, the rollout's `az`)."""

    traffic: tuple[Traffic, ...]
    latest_revision: str  # the revision the current template made
    image: str  # the image of the template's service container
    rollout_id: str  # the ROLLOUT_TAG of the app: the rollout that made latest_revision


class TrafficError(ValueError):
    """The live traffic list is not one this rollout can read or extend safely."""


def app_name(label: str) -> str:
    """The container app's fixed name: the stack's DNS label, cut to 32 characters if needed."""
    if len(label) <= APP_NAME_MAX:
        return label
    return f"{label[: APP_NAME_MAX - _HASH_LENGTH - 1].rstrip('-')}-{naming.short_hash(label)}"


def fresh_rollout_id() -> str:
    """A rollout id no earlier rollout has used: the UTC time and a random part."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def suffix(app: str, model_version: str, template: Mapping[str, Any], rollout_id: str) -> str:
    """A revision suffix from the model version and a hash of the whole template and rollout id.

    `template` is the template exactly as it is sent, minus its suffix: image digest, every
    container, probe and scale setting. Any change to what runs gets a new suffix; an unchanged
    template with the same rollout id keeps its suffix (no new revision, no diff). The readable
    part is the model version: `m` (a suffix starts with a letter) + its letters and digits.
    """
    fingerprint = json.dumps({"template": template, "rollout": rollout_id}, sort_keys=True)
    tail = hashlib.sha256(fingerprint.encode()).hexdigest()[:_HASH_LENGTH]
    room = REVISION_NAME_MAX - len(app) - len("--") - len(tail) - 1
    readable = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", model_version.lower())).strip("-")
    head = f"m{readable}"[: max(room, 1)].rstrip("-")
    value = f"{head}-{tail}"
    check_suffix(app, value)
    return value


def check_suffix(app: str, value: str) -> None:
    """Raise ValueError unless `app--value` is a revision name Azure accepts."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", value) or "--" in value or value.endswith("-"):
        raise ValueError(f"revision suffix {value!r} breaks Azure's rules")
    if len(app) + len(value) > REVISION_NAME_MAX:
        raise ValueError(f"{app}--{value} is over {REVISION_NAME_MAX} characters")


def revision_name(app: str, revision_suffix: str) -> str:
    """The full name Azure gives the revision with this suffix."""
    return f"{app}--{revision_suffix}"


def rollout_id_for(configured: str, image: str, live: LiveApp | None) -> str:
    """The rollout id of this update.

    A configured one (the rollout passes its own). Else, when Azure's latest revision runs the
    same image and still has a traffic entry, that revision's id, so that an update which
    changes nothing makes no new revision. Else a fresh one: reusing the id of a revision that
    no longer serves (a rolled-back canary) would reuse its suffix, which Azure ignores.
    """
    if configured:
        return configured
    if (
        live is not None
        and live.image == image
        and live.rollout_id
        and any(t.revision_name == live.latest_revision for t in live.traffic)
    ):
        return live.rollout_id
    return fresh_rollout_id()


def stable_of(entries: Sequence[Traffic]) -> str:
    """The revision production serves: the one labelled stable, else the only one with traffic."""
    labelled = [t.revision_name for t in entries if t.label == STABLE_LABEL]
    if len(labelled) == 1:
        return labelled[0]
    weighted = [t.revision_name for t in entries if t.weight > 0]
    if not labelled and len(weighted) == 1:
        return weighted[0]
    raise TrafficError(
        f"cannot tell which revision serves from the traffic list {describe(entries)}: label "
        f"the serving revision {STABLE_LABEL!r} (az containerapp revision label add)"
    )


def canary_of(entries: Sequence[Traffic]) -> Traffic | None:
    """The entry labelled canary, if any."""
    found = [t for t in entries if t.label == CANARY_LABEL]
    return found[0] if found else None


def declare(new: str, live: LiveApp | None) -> list[Traffic]:
    """The traffic list an update declares for the revision `new`; it never moves a weight.

    - No app yet (the first deploy): `new` takes 100 % with the label stable. Named, not
      `latestRevision: true`: the service accepts a `revisionName` of the form
      `<app>--<suffix>` for the revision the same request creates (hashicorp/terraform-provider-
      azurerm#27396, relaxing #24042 after the service team confirmed it; Microsoft's own
      blue-green Bicep does the same).
    - `new` is already in Azure's list (nothing changed, or a re-run of the same rollout): the
      list as Azure has it.
    - Otherwise the list as Azure has it, less the entries with no traffic (an earlier canary
      that was never promoted), plus `new` at 0 % with the label canary, whose URL reaches it.
      Refused while another revision holds a canary share: a rollout is under way.
    """
    if live is None:
        return [Traffic(new, 100, STABLE_LABEL)]
    entries = list(live.traffic)
    if any(t.revision_name == new for t in entries):
        return entries
    stable = stable_of(entries)
    refuse_while_under_way(entries)
    kept = [t for t in entries if t.weight > 0 or t.revision_name == stable]
    return [*kept, Traffic(new, 0, CANARY_LABEL)]


def refuse_while_under_way(entries: Sequence[Traffic]) -> None:
    """TrafficError when a canary holds a share: a rollout has not finished."""
    running = canary_of(entries)
    if running is not None and running.weight > 0:
        raise TrafficError(
            f"{running.revision_name} has {running.weight} % as the canary of a rollout that has "
            "not finished: promote it or roll it back (scripts/rollout.py) before adding another"
        )


def serving(entries: Sequence[Traffic]) -> str:
    """The revision that carries the stable label: what production serves after this update."""
    return stable_of(entries)


def describe(entries: Sequence[Traffic]) -> str:
    """`rev-a 90 % (stable), rev-b 10 % (canary)`, for messages."""
    parts = [
        f"{t.revision_name} {t.weight} %" + (f" ({t.label})" if t.label else "") for t in entries
    ]
    return ", ".join(parts) or "(empty)"


def label_url(app: str, label: str, default_domain: str) -> str:
    """The HTTPS URL that reaches the revision carrying `label`, whatever its weight."""
    return f"https://{app}---{label}.{default_domain}/"
