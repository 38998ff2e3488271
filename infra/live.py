"""What a Container Apps stack serves now, read from Azure at the start of every update.

The traffic split, the latest revision and its rollout id are not stack config: config lives in
whichever checkout runs `pulumi up` (a DIY backend keeps it only in Pulumi.<stack>.yaml), and a
CI runner's copy is gone when its job ends. So every update asks Azure, and any checkout gets
the same answer:

1. Did an earlier update of this stack create the app? Its own last outputs say so: the
   `app_id` output, which only an update that created the app could resolve. They are read with
   the engine's built-in `pulumi:pulumi:readStackOutputs` invoke, the one the Node SDK's
   StackReference calls (pulumi/pulumi sdk/nodejs/stackReference.ts); the engine serves it from
   the backend's last checkpoint of the named stack, with no rule against naming the stack
   being updated (pkg/resource/deploy/builtins.go `readStackReference`), and an update records
   its stack outputs only at its end (pulumi/pulumi#14752, #15754), so what is read is the last
   update's. On the first deploy there is no `app_id`, and the app is not asked for: Azure would
   answer 404, which the provider turns into an invoke error, not an empty answer
   (pulumi-azure-native provider.go `Invoke`: "request failed").
2. If it did, `azure-native:app:getContainerApp` (a GET of the app) gives the traffic list, the
   latest revision, the image the template runs and the rollout tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import pulumi
from pulumi_azure_native import app

from infra.container import CONTAINER_NAME
from infra.revisions import ROLLOUT_TAG, LiveApp, Traffic

OWN_OUTPUTS: Final = "pulumi:pulumi:readStackOutputs"
APP_ID_OUTPUT: Final = "app_id"  # exported from the app resource's id (infra/app.py)


def own_outputs() -> Mapping[str, Any]:
    """This stack's outputs as its last update left them ({} before the first)."""
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    result = pulumi.runtime.invoke(OWN_OUTPUTS, {"name": name}).value or {}
    outputs: Mapping[str, Any] = result.get("outputs") or {}
    return outputs


def read(app_name: str, resource_group: str) -> LiveApp | None:
    """The app as Azure runs it, or None when no update of this stack has created it yet."""
    if not own_outputs().get(APP_ID_OUTPUT):
        return None
    found = app.get_container_app(container_app_name=app_name, resource_group_name=resource_group)
    ingress = found.configuration.ingress if found.configuration else None
    traffic = tuple(
        Traffic(str(t.revision_name or ""), int(t.weight or 0), str(t.label or ""))
        for t in ((ingress.traffic if ingress else None) or [])
    )
    containers = (found.template.containers if found.template else None) or []
    image = next((str(c.image) for c in containers if c.name == CONTAINER_NAME), "")
    tags = found.tags or {}
    return LiveApp(
        traffic=traffic,
        latest_revision=str(found.latest_revision_name or ""),
        image=image,
        rollout_id=str(tags.get(ROLLOUT_TAG, "")),
    )
