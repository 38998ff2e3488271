"""A second container next to the service, as both platforms run one: what it runs and needs.

Plain data, so that the platforms (infra/container.py, infra/containerapp.py) can run a sidecar
without knowing what it is (today: the metrics shipper, infra/shipper.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi


@dataclass(frozen=True)
class Sidecar:
    """A container of the replica (Container Apps) or group (Container Instances)."""

    name: str
    image: pulumi.Input[str]  # by digest, in the stack's registry (pulled with its identity)
    command: Sequence[str]
    env: Mapping[str, pulumi.Input[str]]
    cpu: float
    memory_gb: float
    # What must exist before a replica starts it (its image's cache rule, its role assignments).
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)

    def settings(self) -> pulumi.Output[dict[str, object]]:
        """Everything that defines the container, resolved: a revision's suffix hashes it."""
        names = sorted(self.env)
        return pulumi.Output.all(self.image, *(self.env[n] for n in names)).apply(
            lambda values: {
                "name": self.name,
                "image": values[0],
                "command": list(self.command),
                "env": dict(zip(names, values[1:], strict=True)),
                "cpu": self.cpu,
                "memory_gb": self.memory_gb,
            }
        )
