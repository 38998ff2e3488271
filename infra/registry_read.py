"""Read an image's labels from its registry, by digest, without a Docker engine.

What `docker inspect` shows as Config.Labels lives in the image's config blob, which the image
manifest names by digest (OCI image-spec `manifest.md` and `config.md`; the Docker v2 schema 2
manifest has the same fields). The reads go through the registry API (OCI distribution-spec:
`GET /v2/<name>/manifests/<reference>`, `GET /v2/<name>/blobs/<digest>`) with an ACR access
token for `repository:<name>:pull`, got from an ACR refresh token at `POST /oauth2/token`
(Azure/acr docs/AAD-OAuth.md, "Calling POST /oauth2/token to get an ACR access token").

Everything read is content-addressed: the manifest's sha256 must be the digest asked for, and the
config blob's the digest the manifest names, so the labels are those of exactly that image.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final

from infra import acr_token

# Manifest media types a registry may answer with for one image (OCI image-spec
# `media-types.md`; Docker's schema 2 and manifest list). Indexes and lists name one manifest
# per platform; the service image is built for linux/amd64 (infra/image.py PLATFORM).
INDEX_TYPES: Final = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES: Final = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
PLATFORM: Final = {"os": "linux", "architecture": "amd64"}
MAX_BYTES: Final = 4 * 1024 * 1024  # manifests and image configs are kilobytes

Get = Callable[[str, Mapping[str, str]], tuple[bytes, str]]


class RegistryReadError(Exception):
    """The registry could not give the image's labels; the message says why, in one line."""


def _get(url: str, headers: Mapping[str, str]) -> tuple[bytes, str]:
    """GET a URL: (body, Content-Type). The bearer token never follows a redirect.

    ACR answers blob reads with a redirect to a storage URL that carries its own signature;
    a header added with `add_unredirected_header` is not copied to the redirected request
    (urllib.request.HTTPRedirectHandler.redirect_request copies `req.headers` only), so the
    registry token is sent to the registry alone.
    """
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - https://<registry> only
    for name, value in headers.items():
        if name.lower() == "authorization":
            request.add_unredirected_header(name, value)
        else:
            request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - see above
            body: bytes = response.read(MAX_BYTES + 1)
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        with error:  # it holds the connection
            raise RegistryReadError(f"GET {url}: HTTP {error.code} {_error_code(error)}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise RegistryReadError(f"GET {url}: {reason}") from None
    if len(body) > MAX_BYTES:
        raise RegistryReadError(f"GET {url}: answer larger than {MAX_BYTES} bytes")
    return body, content_type.split(";", 1)[0].strip()


def _error_code(error: urllib.error.HTTPError) -> str:
    """The registry's error code (distribution-spec error body), or the HTTP reason."""
    try:
        errors = json.loads(error.read(65536)).get("errors") or []
        return str(errors[0].get("code")) if errors else str(error.reason)
    except (ValueError, AttributeError, IndexError, OSError):
        return str(error.reason)


def pull_token(
    login_server: str,
    repository: str,
    refresh_token: str,
    base_url: str | None = None,
    post: acr_token.PostForm | None = None,
) -> str:
    """An ACR access token that may pull `repository`."""
    try:
        answer = (post or acr_token.post_form)(
            f"{base_url or f'https://{login_server}'}/oauth2/token",
            {
                "grant_type": "refresh_token",
                "service": login_server,
                "scope": f"repository:{repository}:pull",
                "refresh_token": refresh_token,
            },
        )
    except urllib.error.HTTPError as error:
        with error:  # it holds the connection
            raise RegistryReadError(
                f"{login_server} refused a pull token for {repository}: HTTP {error.code}"
            ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise RegistryReadError(f"cannot reach {login_server}: {reason}") from None
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise RegistryReadError(f"{login_server} returned no access token for {repository}")
    return token


def _verified(body: bytes, digest: str, what: str) -> bytes:
    actual = "sha256:" + hashlib.sha256(body).hexdigest()
    if actual != digest:
        raise RegistryReadError(f"{what} has digest {actual}, not {digest}")
    return body


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        raise RegistryReadError(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise RegistryReadError(f"{what} is not a JSON object")
    return value


def image_labels(
    login_server: str,
    repository: str,
    digest: str,
    access_token: str,
    base_url: str | None = None,
    get: Get | None = None,
) -> dict[str, str]:
    """The labels of the image `<login_server>/<repository>@<digest>`, checked by digest."""
    fetch = get or _get
    root = f"{base_url or f'https://{login_server}'}/v2/{repository}"
    auth = {"Authorization": f"Bearer {access_token}"}
    accept = {"Accept": ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))}
    name = f"{login_server}/{repository}@{digest}"

    body, media_type = fetch(f"{root}/manifests/{digest}", {**auth, **accept})
    manifest = _json(_verified(body, digest, f"the manifest of {name}"), f"the manifest of {name}")
    media_type = str(manifest.get("mediaType") or media_type)
    if media_type in INDEX_TYPES:
        entries = manifest.get("manifests") or []
        chosen = [
            entry
            for entry in entries
            if isinstance(entry, dict)
            and all((entry.get("platform") or {}).get(k) == v for k, v in PLATFORM.items())
        ]
        if not chosen:
            raise RegistryReadError(f"{name} is an index with no linux/amd64 image")
        platform_digest = str(chosen[0].get("digest"))
        body, media_type = fetch(f"{root}/manifests/{platform_digest}", {**auth, **accept})
        what = f"the linux/amd64 manifest of {name}"
        manifest = _json(_verified(body, platform_digest, what), what)
        media_type = str(manifest.get("mediaType") or media_type)
    if media_type not in MANIFEST_TYPES:
        raise RegistryReadError(f"{name} is a {media_type or 'manifest of no type'}, not an image")
    config_digest = str((manifest.get("config") or {}).get("digest") or "")
    if not config_digest.startswith("sha256:"):
        raise RegistryReadError(f"the manifest of {name} names no sha256 config blob")
    body, _ = fetch(f"{root}/blobs/{config_digest}", auth)
    what = f"the image config of {name}"
    config = _json(_verified(body, config_digest, what), what)
    labels = (config.get("config") or {}).get("Labels") or {}
    if not isinstance(labels, dict):
        raise RegistryReadError(f"{what} has malformed labels")
    return {str(key): str(value) for key, value in labels.items()}
