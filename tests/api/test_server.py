"""The real thing: `python -m api` under uvicorn on a loopback port, driven over HTTP."""

from __future__ import annotations

import json
import re
import socket
import time
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from tests.banknote import FORGED, GENUINE

pytestmark = pytest.mark.server


class _Assets(HTMLParser):
    """Collects every script src and link href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self._in_script = True
            if found.get("src"):
                self.urls.append(str(found["src"]))
        if tag == "link" and found.get("href"):
            self.urls.append(str(found["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


def test_root(server: Any) -> None:
    response = httpx.get(f"{server.url}/")
    assert response.status_code == 200
    assert response.content == b'{"message":"FastAPI zegt Hallo Wereld"}'


def test_predict_and_batch(server: Any) -> None:
    one = httpx.post(f"{server.url}/predict", json=FORGED)
    assert one.status_code == 200
    assert one.json()["label"] == "Vals bankbiljet"
    many = httpx.post(f"{server.url}/predict/batch", json=[GENUINE, FORGED])
    assert many.status_code == 200
    assert [p["prediction"] for p in many.json()["predictions"]] == ["genuine", "forged"]


def test_ready_and_metrics(server: Any) -> None:
    assert httpx.get(f"{server.url}/ready").json()["status"] == "ready"
    httpx.post(f"{server.url}/predict", json=GENUINE)
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.status_code == 200
    assert 'http_requests_total{method="POST",route="/predict",status="200"}' in metrics.text
    assert "model_info{" in metrics.text
    assert "process_resident_memory_bytes" in metrics.text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_the_service(server: Any, page: str) -> None:
    response = httpx.get(f"{server.url}{page}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    parser = _Assets()
    parser.feed(response.text)
    assert parser.inline_scripts == 0  # the CSP forbids inline scripts
    assert len(parser.urls) >= 3
    for url in parser.urls:
        assert "://" not in url, f"{url} is not served locally"
        assert not url.startswith("//"), f"{url} is not served locally"
        asset = httpx.get(f"{server.url}/{url.lstrip('/')}")
        assert asset.status_code == 200, url
        assert len(asset.content) > 0, url
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert spec["paths"]["/predict"]["post"]["summary"] == "Predict Bankbiljet"


def test_logs_are_json_lines_with_request_ids(server: Any) -> None:
    httpx.get(f"{server.url}/health", headers={"X-Request-ID": "server-log-1"})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "server-log-1" not in server.output():
        time.sleep(0.05)
    lines = [json.loads(line) for line in server.output().splitlines() if line.strip()]
    access = [line for line in lines if line.get("request_id") == "server-log-1"]
    assert len(access) == 1
    assert access[0]["path"] == "/health"
    assert access[0]["status"] == 200
    assert not [line for line in lines if line.get("logger") == "uvicorn.access"]


def _http(port: int, raw: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(raw)
    return sock


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
        if b"\r\n\r\n" in data:
            head, _, body = data.partition(b"\r\n\r\n")
            match = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
            if match and len(body) >= int(match.group(1)):
                break
    return data


def test_truly_chunked_body_over_the_limit_is_413(server: Any) -> None:
    sock = _http(
        server.port,
        b"POST /predict/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    chunk = b"[" + b" " * 65535
    # Just past the 4 MiB default, and no terminating chunk: the server has read everything
    # sent when it answers, so it closes cleanly instead of resetting the connection.
    for _ in range(4 * 16 + 1):
        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    response = _read_response(sock)
    sock.close()
    assert response.startswith(b"HTTP/1.1 413")
    assert b'"too_large"' in response
