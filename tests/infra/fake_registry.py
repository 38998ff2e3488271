"""A container registry on 127.0.0.1 that answers the way Azure Container Registry does, for the
reads infra/registry_read.py and infra/acr_token.py make.

Modelled on the documents those modules cite, and nothing more:
- token endpoints (Azure/acr docs/AAD-OAuth.md): `POST /oauth2/exchange` turns an Entra ID access
  token into an ACR refresh token; `POST /oauth2/token` with `grant_type=refresh_token` and a
  `scope` turns that into an access token for the scope;
- the distribution API (OCI distribution-spec): `GET /v2/<name>/manifests/<digest>` and
  `GET /v2/<name>/blobs/<digest>` need `Authorization: Bearer <access token>` for
  `repository:<name>:pull` (401 with a `Www-Authenticate` challenge otherwise, 404
  `MANIFEST_UNKNOWN`/`BLOB_UNKNOWN` for a digest it does not hold); content is addressed by its
  sha256;
- blob reads are redirected to a storage URL that carries its own signature, and the storage
  refuses a request that also brings an `Authorization` header (Azure Storage treats it as a
  second credential), so a client that forwards the registry token across the redirect fails.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass
class FakeRegistry:
    """Content by digest for each repository, and every request seen."""

    login_server: str
    blobs: dict[str, dict[str, tuple[bytes, str]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> scope
    refresh_tokens: set[str] = field(default_factory=set)
    storage_url: str = ""

    def put(self, repository: str, body: bytes, media_type: str) -> str:
        digest = digest_of(body)
        self.blobs.setdefault(repository, {})[digest] = (body, media_type)
        return digest

    def add_image(
        self, repository: str, labels: dict[str, str] | None, *, index: bool = False
    ) -> str:
        """Push an image whose config carries `labels`; its digest (an index's with index=True,
        as buildx pushes with provenance: the image plus an attestation manifest)."""
        config: dict[str, Any] = {"architecture": "amd64", "os": "linux", "config": {}}
        if labels is not None:
            config["config"]["Labels"] = labels
        config_body = json.dumps(config).encode()
        config_digest = self.put(repository, config_body, DOCKER_CONFIG)
        media_type = OCI_MANIFEST if index else DOCKER_MANIFEST
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": DOCKER_CONFIG,
                "size": len(config_body),
                "digest": config_digest,
            },
            "layers": [],
        }
        manifest_digest = self.put(repository, json.dumps(manifest).encode(), media_type)
        if not index:
            return manifest_digest
        attestation = self.put(repository, b'{"schemaVersion": 2, "layers": []}', OCI_MANIFEST)
        image_index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": attestation,
                    "platform": {"os": "unknown", "architecture": "unknown"},
                },
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": manifest_digest,
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
            ],
        }
        return self.put(repository, json.dumps(image_index).encode(), OCI_INDEX)

    def import_from(self, source: FakeRegistry, repository: str, digest: str) -> None:
        """What `az acr import` does: the manifest and everything it names, copied under the
        same digests (content-addressed, so "the same image" stays checkable)."""
        body, media_type = source.blobs[repository][digest]
        self.blobs.setdefault(repository, {})[digest] = (body, media_type)
        if media_type not in (DOCKER_MANIFEST, OCI_MANIFEST, OCI_INDEX):
            return  # a config blob: it names nothing
        manifest = json.loads(body)
        named = [entry["digest"] for entry in manifest.get("manifests") or []]
        if manifest.get("config"):
            named.append(manifest["config"]["digest"])
        for child in named:
            if child in source.blobs[repository]:
                self.import_from(source, repository, child)

    # -- the HTTP API ---------------------------------------------------------------------------
    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        self.requests.append({"method": method, "path": path, "headers": headers})
        if method == "POST" and path in ("/oauth2/exchange", "/oauth2/token"):
            form = dict(urllib.parse.parse_qsl(body.decode()))
            self.requests[-1]["form"] = form
            if form.get("service") != self.login_server:
                return _json(400, {"errors": [{"code": "INVALID_SERVICE"}]})
            if path == "/oauth2/exchange":
                if form.get("grant_type") != "access_token" or not form.get("access_token"):
                    return _json(400, {"errors": [{"code": "UNSUPPORTED_GRANT"}]})
                token = f"refresh-{len(self.refresh_tokens)}"
                self.refresh_tokens.add(token)
                return _json(200, {"refresh_token": token})
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in (
                self.refresh_tokens
            ):
                return _json(401, {"errors": [{"code": "UNAUTHORIZED"}]})
            token = f"access-{len(self.tokens)}"
            self.tokens[token] = form.get("scope", "")
            return _json(200, {"access_token": token})
        parts = path.split("/")
        if method != "GET" or len(parts) < 5 or parts[1] != "v2":
            return _json(404, {"errors": [{"code": "NAME_UNKNOWN"}]})
        repository, kind, digest = "/".join(parts[2:-2]), parts[-2], parts[-1]
        auth = headers.get("authorization", "")
        bearer = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        scope = self.tokens.get(bearer) if bearer else None
        if scope != f"repository:{repository}:pull":
            challenge = (
                f'Bearer realm="https://{self.login_server}/oauth2/token",'
                f'service="{self.login_server}",scope="repository:{repository}:pull"'
            )
            status, extra, answer = _json(401, {"errors": [{"code": "UNAUTHORIZED"}]})
            return status, {**extra, "Www-Authenticate": challenge}, answer
        stored = self.blobs.get(repository, {}).get(digest)
        if kind == "manifests":
            accepted = headers.get("accept", "")
            if stored is None or stored[1] not in accepted:
                return _json(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
            return 200, {"Content-Type": stored[1]}, stored[0]
        if kind == "blobs" and stored is not None:
            location = f"{self.storage_url}/{repository}/{digest}?sig=signed"
            return 307, {"Location": location}, b""
        return _json(404, {"errors": [{"code": "BLOB_UNKNOWN"}]})

    def storage(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.requests.append({"method": "GET", "path": f"storage:{path}", "headers": headers})
        if "authorization" in headers:
            return 403, {"Content-Type": "application/xml"}, b"<Error>AuthenticationFailed</Error>"
        target, _, query = path.partition("?")
        repository, _, digest = target.strip("/").rpartition("/")
        stored = self.blobs.get(repository, {}).get(digest)
        if stored is None or query != "sig=signed":
            return 404, {}, b""
        return 200, {"Content-Type": "application/octet-stream"}, stored[0]


def _json(status: int, value: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()


@contextmanager
def serve(registry: FakeRegistry) -> Iterator[str]:
    """Serve the registry (and its blob storage) on 127.0.0.1; yields the registry's base URL."""

    def handler(route: str) -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                if route == "registry":
                    status, extra, answer = registry.handle(method, self.path, headers, body)
                else:
                    status, extra, answer = registry.storage(self.path, headers)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler(r)) for r in ("registry", "storage")]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    registry.storage_url = f"http://127.0.0.1:{servers[1].server_address[1]}"
    try:
        yield f"http://127.0.0.1:{servers[0].server_address[1]}"
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
