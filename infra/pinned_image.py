"""A known service image, by digest (config `image`): deployed as it is, nothing is built.

This is how a model version is promoted or rolled back without a rebuild: every version the
pipeline deployed is an image in the stack's registry, tagged with its model version and
labelled with it by the Dockerfile (`mlops.model.version`, beside `mlops.model.name`; images
built before the model spec carry `banknote.model.version`, which is read too, so they still
deploy and roll back). The stack output `model_version` is read from that label in the
registry, through the digest, so it names what the container group really runs rather than what
someone typed next to it.
"""

from __future__ import annotations

import re
import urllib.error
from dataclasses import dataclass
from typing import Final

import contract
from infra import acr_token, registry_read
from infra.errors import ConfigError

# Set from the MODEL_VERSION and MODEL_NAME build arguments in the Dockerfile's runtime stage (a
# test keeps them equal); images built by hand without them say "unknown". A label key is
# namespaced, as Docker asks of tools' labels (docs.docker.com "Docker object labels", key format
# recommendations).
MODEL_VERSION_LABEL: Final = "mlops.model.version"
MODEL_NAME_LABEL: Final = "mlops.model.name"
# The key of the images built before the model spec: every one in a registry today. Read when
# the new key is absent, so those versions still deploy and roll back.
LEGACY_MODEL_VERSION_LABEL: Final = "banknote.model.version"

# <registry host>/<repository>@sha256:<64 hex>. The host must be a DNS name with a dot (an ACR
# login server), so a bare "banknote-api@sha256:..." cannot silently mean Docker Hub; the
# repository follows the distribution-spec name grammar (lower-case path components).
_REFERENCE: Final = re.compile(
    r"^(?P<registry>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)"
    r"/(?P<repository>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"@(?P<digest>sha256:[0-9a-f]{64})$"
)
EXAMPLE: Final = "banknotedev1a2b3c4d.azurecr.io/banknote-api@sha256:<64 hex digits>"
_MODEL_VERSION: Final = re.compile(contract.MODEL_VERSION_PATTERN)


@dataclass(frozen=True)
class ImageReference:
    """An image in a registry, named by the digest of its manifest."""

    registry: str  # the login server, e.g. banknotedev1a2b3c4d.azurecr.io
    repository: str
    digest: str  # sha256:<64 hex>

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"


def parse_reference(text: str) -> ImageReference:
    """`<registry>/<repository>@sha256:<hex>`, or ValueError saying what is wrong."""
    match = _REFERENCE.match(text)
    if match:
        return ImageReference(match["registry"], match["repository"], match["digest"])
    name = text.split("@", 1)[0]
    if "@" not in text:
        why = "it names no digest (a tag can be moved; a digest cannot)"
    elif ":" in name.rsplit("/", 1)[-1]:
        why = "drop the tag: with a digest it is ignored, and it may not match the digest"
    elif "/" not in name or "." not in name.split("/", 1)[0]:
        why = "it names no registry host"
    else:
        why = "it is not a lower-case registry/repository with a sha256 digest of 64 hex digits"
    raise ValueError(f"{why}; expected {EXAMPLE}")


def check_registry(image: ImageReference, registry_name: str) -> None:
    """The image must be in the stack's own registry: the only one its pull identity may read."""
    if image.registry.split(".", 1)[0] != registry_name:
        raise ConfigError(
            f"config image={str(image)!r} is invalid: it is in {image.registry}, but this stack's "
            f"registry is {registry_name}; its container group may pull only from there (deploy "
            "a version this stack has built, or copy the image with `az acr import`)"
        )


def read_model_version(image: ImageReference, tenant_id: str, aad_token: str) -> str:
    """The image's model version label (`mlops.model.version`, else the older
    `banknote.model.version`), read from its registry; ConfigError if the registry cannot be
    read or the image carries no valid model version."""
    try:
        refresh = acr_token.exchange(image.registry, tenant_id, aad_token)
        token = registry_read.pull_token(image.registry, image.repository, refresh)
        labels = registry_read.image_labels(image.registry, image.repository, image.digest, token)
    except urllib.error.HTTPError as error:  # the token exchange refused the deployer
        with error:  # it holds the connection
            raise ConfigError(
                f"cannot read the model version of image {image}: {image.registry} refused the "
                f"deployer's token (HTTP {error.code})"
            ) from None
    except (registry_read.RegistryReadError, RuntimeError, OSError, ValueError) as error:
        raise ConfigError(f"cannot read the model version of image {image}: {error}") from None
    version = labels.get(MODEL_VERSION_LABEL) or labels.get(LEGACY_MODEL_VERSION_LABEL, "")
    if not _MODEL_VERSION.match(version) or version == "unknown":
        raise ConfigError(
            f"image {image} has no usable {MODEL_VERSION_LABEL} label ({version or 'none'!r}): "
            "it was not built by this project's pipeline"
        )
    return version
