"""Every class of bad input gets a 4xx JSON answer that names the field and the problem."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.middleware import BodyLimitMiddleware
from tests.banknote import GENUINE

OK = '"skewness": 8.6661, "curtosis": -2.8073, "entropy": -0.44699'


def _field_errors(response: Any) -> list[dict[str, Any]]:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body["detail"], list)
    assert body["request_id"] == response.headers["x-request-id"]
    for error in body["detail"]:
        assert set(error) == {"loc", "msg", "type"}
        assert error["msg"]
    errors: list[dict[str, Any]] = body["detail"]
    return errors


# (raw body, expected loc of the first error, expected error type)
NOTE_CASES = {
    "missing field": (
        '{"variance": 1.0, "skewness": 2.0, "curtosis": 3.0}',
        ["body", "entropy"],
        "missing",
    ),
    "extra field": (
        f'{{"variance": 1, "colour": "red", {OK}}}',
        ["body", "colour"],
        "extra_forbidden",
    ),
    "string": (f'{{"variance": "3.6", {OK}}}', ["body", "variance"], "float_type"),
    "boolean": (f'{{"variance": true, {OK}}}', ["body", "variance"], "float_type"),
    "null": (f'{{"variance": null, {OK}}}', ["body", "variance"], "float_type"),
    "NaN": (f'{{"variance": NaN, {OK}}}', ["body", "variance"], "finite_number"),
    "Infinity": (f'{{"variance": Infinity, {OK}}}', ["body", "variance"], "finite_number"),
    "-Infinity": (f'{{"variance": -Infinity, {OK}}}', ["body", "variance"], "finite_number"),
    "too large to be finite": (
        f'{{"variance": 1e400, {OK}}}',
        ["body", "variance"],
        "finite_number",
    ),
    "huge integer": (f'{{"variance": {"9" * 400}, {OK}}}', ["body", "variance"], "finite_number"),
    "nested garbage": (
        f'{{"variance": {{"a": [1, {{"b": null}}]}}, {OK}}}',
        ["body", "variance"],
        "float_type",
    ),
    "list instead of object": ("[1, 2, 3, 4]", ["body"], "dict_type"),
    "bare string": ('"hello"', ["body"], "dict_type"),
    "wrong JSON": ('{"variance": 1.0,', ["body"], "json_invalid"),
    "not JSON at all": ("variance=1&skewness=2", ["body"], "json_invalid"),
    "invalid UTF-8": (b'{"variance": "\xff\xfe"}', ["body"], "json_invalid"),
    "empty body": ("", ["body"], "missing"),
    "whitespace body": ("  \n ", ["body"], "missing"),
}


@pytest.mark.parametrize(("raw", "loc", "kind"), NOTE_CASES.values(), ids=NOTE_CASES.keys())
def test_bad_note_is_422_naming_the_field(
    client: TestClient, raw: str | bytes, loc: list[Any], kind: str
) -> None:
    response = client.post("/predict", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    errors = _field_errors(response)
    assert errors[0]["loc"] == loc
    assert errors[0]["type"] == kind


def test_every_bad_field_is_reported(client: TestClient) -> None:
    response = client.post("/predict", json={"variance": "a", "skewness": None, "extra": 1})
    names = {tuple(error["loc"]) for error in _field_errors(response)}
    assert names == {
        ("body", "variance"),
        ("body", "skewness"),
        ("body", "curtosis"),
        ("body", "entropy"),
        ("body", "extra"),
    }


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_wrong_content_type_is_415(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/predict", content=json.dumps(GENUINE), headers=headers)
    assert response.status_code == 415
    errors = _field_errors(response)
    assert errors[0]["loc"] == ["header", "content-type"]
    assert "application/json" in errors[0]["msg"]


def test_body_over_the_limit_is_413_by_content_length(
    client: TestClient, settings: Settings
) -> None:
    raw = json.dumps([GENUINE] * 200)
    assert len(raw) > settings.max_body_bytes
    response = client.post(
        "/predict/batch", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    errors = _field_errors(response)
    assert errors[0]["loc"] == ["body"]
    assert str(settings.max_body_bytes) in errors[0]["msg"]


def test_streamed_body_over_the_limit_is_413(client: TestClient, settings: Settings) -> None:
    # A chunked body has no Content-Length: the limit must count the bytes as they arrive.
    def chunks() -> Iterator[bytes]:
        yield b"["
        for _ in range(200):
            yield json.dumps(GENUINE).encode() + b","
        yield json.dumps(GENUINE).encode() + b"]"

    response = client.post(
        "/predict/batch", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert _field_errors(response)[0]["type"] == "too_large"


def test_streamed_body_under_the_limit_is_fine(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"variance": 3.6216, '
        yield f"{OK}}}".encode()

    response = client.post(
        "/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


def test_batch_over_the_row_limit(client: TestClient, settings: Settings) -> None:
    response = client.post("/predict/batch", json=[GENUINE] * (settings.max_batch_rows + 1))
    assert response.status_code == 422
    error = _field_errors(response)[0]
    assert error["loc"] == ["body"]
    assert error["type"] == "too_long"
    assert str(settings.max_batch_rows) in error["msg"]


BATCH_CASES = {
    "empty list": ("[]", ["body"], "too_short"),
    "object instead of list": (json.dumps(GENUINE), ["body"], "list_type"),
    "bad row": (
        json.dumps([GENUINE, {**GENUINE, "variance": "x"}]),
        ["body", 1, "variance"],
        "float_type",
    ),
    "garbage row": (json.dumps([GENUINE, [1, 2]]), ["body", 1], "dict_type"),
    "NaN in a row": ('[{"variance": NaN, ' + OK + "}]", ["body", 0, "variance"], "finite_number"),
    "wrong JSON": ("[{", ["body"], "json_invalid"),
    "empty body": ("", ["body"], "missing"),
}


@pytest.mark.parametrize(("raw", "loc", "kind"), BATCH_CASES.values(), ids=BATCH_CASES.keys())
def test_bad_batch_is_422_naming_the_row_and_field(
    client: TestClient, raw: str, loc: list[Any], kind: str
) -> None:
    response = client.post(
        "/predict/batch", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    error = _field_errors(response)[0]
    assert error["loc"] == loc
    assert error["type"] == kind


def test_a_batch_of_garbage_reports_the_first_errors_and_the_total(client: TestClient) -> None:
    response = client.post("/predict/batch", json=[{"variance": "x"}] * 50)
    assert response.status_code == 422
    body = response.json()
    assert len(body["detail"]) == 20
    assert body["errors_total"] == 50 * 4  # a bad variance and three missing fields per row


def test_batch_wrong_content_type_is_415(client: TestClient) -> None:
    response = client.post("/predict/batch", content="[]", headers={"content-type": "text/csv"})
    assert response.status_code == 415


def test_limit_counts_streamed_messages_and_stops_reading() -> None:
    # The ASGI messages of a chunked upload, driven straight through the middleware.
    received: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            received.append(len(message["body"]))
            if not message.get("more_body"):
                break
        raise AssertionError("the app must not see the whole body")  # pragma: no cover

    chunks = [{"type": "http.request", "body": b"x" * 1000, "more_body": True}] * 10
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "state": {}}
    # A private loop: asyncio.run() would leave the main thread without a current event
    # loop, which later tests in the session (Pulumi's) rely on.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(BodyLimitMiddleware(app, max_bytes=2500)(scope, receive, send))
    finally:
        loop.close()
    assert received == [1000, 1000]  # the third message crossed the limit and was refused
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["detail"][0]["type"] == "too_large"
