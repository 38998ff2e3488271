"""Azure Container Apps revisions: the app's name, each revision's name, and the traffic split.

Pure functions, so the rules are tested on their own and the rollout script
(scripts/rollout.py) and the program agree on them. The rules, from Microsoft's documentation
and the service's behaviour:

- A container app's name is 2-32 lower-case letters, digits and '-', starting with a letter,
  ending with a letter or digit, without '--' (learn.microsoft.com "Naming rules and
  restrictions for Azure resources", Microsoft.App/containerApps).
- A revision is named `<app>--<suffix>`. The suffix is lower-case letters, digits and '-',
  starts with a letter, has no '--', and is at most 54 characters together with the app name
  (the API's check on `template.revisionSuffix`).
- A suffix cannot be reused: Azure ignores a template that names the suffix of an existing,
  inactive revision, silently (microsoft/azure-container-apps#650). So a retried rollout of
  the same image needs a new suffix; `rollout_id` gives it one.
- A traffic entry names a full revision name; a label's URL is
  `https://<app>---<label>.<environment default domain>` (learn.microsoft.com "Blue-Green
  Deployment in Azure Container Apps").
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Final

from infra import naming

APP_NAME_MAX: Final = 32
REVISION_NAME_MAX: Final = 54  # app name + suffix (Azure's limit on revisionSuffix)
CANARY_LABEL: Final = "canary"
STABLE_LABEL: Final = "stable"
_HASH_LENGTH: Final = 8


@dataclass(frozen=True)
class Traffic:
    """One entry of `configuration.ingress.traffic`."""

    revision_name: str
    weight: int
    label: str


def app_name(label: str) -> str:
    """The container app's fixed name: the stack's DNS label, cut to 32 characters if needed."""
    if len(label) <= APP_NAME_MAX:
        return label
    return f"{label[: APP_NAME_MAX - _HASH_LENGTH - 1].rstrip('-')}-{naming.short_hash(label)}"


def suffix(app: str, model_version: str, digest: str, template: dict[str, object]) -> str:
    """A revision suffix from the model version and a hash of the revision's template.

    The hash covers the image digest and every other revision-scope setting (`template`: CPU,
    memory, environment, scale, rollout id), so any change to what runs gets a new suffix and
    an unchanged template keeps its suffix (no new revision, no diff). The readable part is the
    model version: `m` (a suffix must start with a letter) + its lower-cased letters and digits.
    """
    fingerprint = json.dumps({"digest": digest, **template}, sort_keys=True)
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


def traffic(
    new: str, stable: str | None, canary_weight: int, *, rollback: bool = False
) -> list[Traffic]:
    """The traffic split for the revision `new` next to the serving revision `stable`.

    - No stable revision (the first deploy), or `new` is the stable one: `new` takes 100 %.
      Named, not `latestRevision: true`: the service accepts a `revisionName` of the form
      `<app>--<suffix>` for the revision the same request creates (hashicorp/terraform-provider-
      azurerm#27396, relaxing #24042 after the service team confirmed it; Microsoft's own
      blue-green Bicep does the same), so every entry names its revision and phase 2 changes
      weights only.
    - A canary: `stable` keeps 100 - w %, `new` gets w % and the label `canary`, whose URL
      reaches it even at 0 %. w = 100 promotes `new`; `stable` then leaves the list.
    - A rollback: `stable` takes 100 %, `new` gets no entry and so no label.
    """
    if not 0 <= canary_weight <= 100:
        raise ValueError(f"canary weight {canary_weight} is not 0-100")
    if stable is None or stable == new:
        if rollback:
            raise ValueError("nothing to roll back to: no stable revision")
        return [Traffic(new, 100, STABLE_LABEL)]
    if rollback:
        return [Traffic(stable, 100, STABLE_LABEL)]
    if canary_weight == 100:
        return [Traffic(new, 100, STABLE_LABEL)]
    return [
        Traffic(stable, 100 - canary_weight, STABLE_LABEL),
        Traffic(new, canary_weight, CANARY_LABEL),
    ]


def serving(entries: list[Traffic]) -> str:
    """The revision that carries the stable label: what production serves after this update."""
    (stable,) = [t.revision_name for t in entries if t.label == STABLE_LABEL]
    return stable


def label_url(app: str, label: str, default_domain: str) -> str:
    """The HTTPS URL that reaches the revision carrying `label`, whatever its weight."""
    return f"https://{app}---{label}.{default_domain}/"
