"""Names Azure will accept, derived deterministically from project, stack and subscription.

Stable names make the URL stable per stack (the original's changed on every deploy) and let a
destroyed stack be recreated under the same names. Globally unique names (registry, storage
account, key vault) get a short hash of subscription + project + stack so two subscriptions
using this repository do not collide.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

# The label names the container group and its public DNS label. Container group names are 1-63
# lower-case letters, digits and hyphens, not starting or ending with a hyphen, and "consecutive
# hyphens aren't allowed" (learn.microsoft.com "Naming rules and restrictions for Azure
# resources", Microsoft.ContainerInstance/containerGroups). Container Apps reserve `--` for
# revision names (<app>--<suffix>), another reason never to produce it.
DNS_LABEL: Final = re.compile(r"^(?!.*--)[a-z][a-z0-9-]{1,61}[a-z0-9]$")
MAX_PREFIX: Final = 40
_PREFIX: Final = re.compile(r"^[a-z][a-z0-9-]*$")


def short_hash(*parts: str, length: int = 8) -> str:
    """A stable lower-case hex digest of the parts (not a secret, just a disambiguator)."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def dns_label(prefix: str, stack: str) -> str:
    """`<prefix>-<stack>` as a valid DNS label; raises ValueError if the prefix cannot give one.

    The stack part is normalised (Pulumi allows `_` and `.` in stack names, DNS does not); a
    label that would exceed 63 characters is cut and suffixed with a hash of the full name, so
    different stacks still get different labels.
    """
    if (
        not _PREFIX.match(prefix)
        or prefix.endswith("-")
        or "--" in prefix
        or len(prefix) > MAX_PREFIX
    ):
        raise ValueError(
            f"it must start with a lower-case letter, contain only a-z, 0-9 and single '-', not "
            f"end with '-', and be at most {MAX_PREFIX} characters"
        )
    # A stack name with no letter or digit (say "_") still needs a part of its own.
    stack_part = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-") or short_hash(stack)
    label = f"{prefix}-{stack_part}"
    if len(label) > 63:
        label = f"{label[:54].rstrip('-')}-{short_hash(prefix, stack)}"
    if not DNS_LABEL.match(label):
        raise ValueError(f"it gives the label {label!r}, which Azure rejects (3-63 characters)")
    return label


def resource_group_name(label: str) -> str:
    """The stack's resource group: `rg-<label>` (at most 90 characters, always true here)."""
    return f"rg-{label}"


def target_group_name(project: str, target: str) -> str:
    """A group the bootstrap creates for CI's stacks to deploy into: `rg-<project>_<target>`
    (rg-banknote_dev for the dev stack, rg-banknote_pr shared by every pr-<n> stack).

    As with the state group, the underscore keeps it apart from every `rg-<label>` an app stack
    creates for itself, so no developer's stack can name, adopt or delete it.
    """
    return f"rg-{project}_{target}"


def state_group_name(project: str) -> str:
    """The bootstrap's resource group. The underscore cannot occur in a DNS label, so no app
    stack's `rg-<label>` can ever name (and `make stack-down` delete) this group."""
    return f"rg-{project}_state"


def registry_name(label: str, subscription_id: str) -> str:
    """Container registry name: 5-50 letters and digits, globally unique."""
    return _alnum(label, 50 - 8) + short_hash(subscription_id, label)


def storage_account_name(label: str, subscription_id: str) -> str:
    """Storage account name: 3-24 lower-case letters and digits, globally unique."""
    return _alnum(label, 24 - 8) + short_hash(subscription_id, label)


def key_vault_name(label: str, subscription_id: str, generation: int = 1) -> str:
    """Key vault name: 3-24 letters, digits and single hyphens, starting with a letter.

    Fixed per subscription, so a vault deleted by mistake can be recovered under its name
    (purge protection keeps it, and the name, for 90 days). A later generation gives a new
    name, for starting afresh inside those 90 days.
    """
    parts = (
        (subscription_id, label) if generation == 1 else (subscription_id, label, str(generation))
    )
    return f"kv{_alnum(label, 24 - 2 - 9)}-{short_hash(*parts)}"


def _alnum(text: str, max_len: int) -> str:
    """Lower-case letters and digits only, starting with a letter, at most max_len long."""
    cleaned = re.sub(r"[^a-z0-9]", "", text.lower()).lstrip("0123456789")
    return (cleaned or "x")[:max_len]
