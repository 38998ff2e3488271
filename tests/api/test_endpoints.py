"""Every endpoint through TestClient, with the model loaded by the real lifespan."""

from __future__ import annotations

import gc
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.banknote import FORGED, GENUINE, SPEC


def test_root_is_the_original_greeting_byte_for_byte(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.content == b'{"message":"FastAPI zegt Hallo Wereld"}'
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("note", "prediction", "label"),
    [(GENUINE, "genuine", "Goed bankbiljet"), (FORGED, "forged", "Vals bankbiljet")],
)
def test_predict_known_notes(
    client: TestClient,
    artifact_metadata: dict[str, Any],
    note: dict[str, float],
    prediction: str,
    label: str,
) -> None:
    response = client.post("/predict", json=note)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"prediction", "label", "probability_forged", "model_version"}
    assert body["prediction"] == prediction
    assert body["label"] == label
    assert 0.0 <= body["probability_forged"] <= 1.0
    assert (body["probability_forged"] > 0.5) == (prediction == "forged")
    assert body["model_version"] == artifact_metadata["model_version"]


def test_predict_accepts_integers(client: TestClient) -> None:
    response = client.post(
        "/predict", json={"variance": 4, "skewness": 8, "curtosis": -3, "entropy": 0}
    )
    assert response.status_code == 200
    assert response.json()["prediction"] in {"genuine", "forged"}


def test_predict_accepts_json_with_charset(client: TestClient) -> None:
    response = client.post(
        "/predict",
        content=json.dumps(GENUINE),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


def test_batch_returns_results_in_request_order(client: TestClient) -> None:
    notes = [GENUINE, FORGED, FORGED, GENUINE]
    response = client.post("/predict/batch", json=notes)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert [item["prediction"] for item in body["predictions"]] == [
        "genuine",
        "forged",
        "forged",
        "genuine",
    ]
    singles = [client.post("/predict", json=note).json() for note in notes]
    for item, single in zip(body["predictions"], singles, strict=True):
        assert item["label"] == single["label"]
        assert item["probability_forged"] == pytest.approx(single["probability_forged"], abs=1e-7)
    assert body["model_version"] == singles[0]["model_version"]


def test_batch_accepts_exactly_the_limit(client: TestClient, settings: Settings) -> None:
    response = client.post("/predict/batch", json=[GENUINE] * settings.max_batch_rows)
    assert response.status_code == 200
    assert response.json()["count"] == settings.max_batch_rows


def test_health_is_always_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_the_loaded_model(
    client: TestClient, artifact_metadata: dict[str, Any]
) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "model_version": artifact_metadata["model_version"],
    }


def test_not_ready_and_no_predictions_without_a_model(settings: Settings) -> None:
    # No `with`: the lifespan never runs, so no model is loaded.
    client = TestClient(create_app(settings))
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json() == {"status": "not ready"}
    predict = client.post("/predict", json=GENUINE)
    assert predict.status_code == 503
    assert predict.json()["detail"] == "The model is not loaded"
    assert client.post("/predict/batch", json=[GENUINE]).status_code == 503
    assert client.get("/model").status_code == 503
    assert client.get("/health").status_code == 200


def test_model_describes_the_artifact(
    client: TestClient, artifact_metadata: dict[str, Any]
) -> None:
    response = client.get("/model")
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == artifact_metadata["model_version"]
    assert body["created_at"] == artifact_metadata["created_at"]
    assert body["features"] == ["variance", "skewness", "curtosis", "entropy"]
    assert body["classes"] == [
        {"value": 0, "name": "genuine", "label": "Goed bankbiljet"},
        {"value": 1, "name": "forged", "label": "Vals bankbiljet"},
    ]
    assert body["data_sha256"] == artifact_metadata["data"]["sha256"]
    assert body["onnx_sha256"] == artifact_metadata["files"]["model.onnx"]
    assert body["metrics"] == artifact_metadata["metrics"]
    assert (body["name"], body["positive_class"]) == (SPEC.name, SPEC.positive)
    # One row of each class from the data file (what scripts/smoke.py sends): its lines 1 and
    # 763, the first genuine and the first forged note.
    assert body["examples"] == [
        {"prediction": "genuine", "line": 1, "features": GENUINE},
        {"prediction": "forged", "line": 763, "features": FORGED},
    ]


def test_metrics_count_requests_predictions_and_model(fresh_client: TestClient) -> None:
    fresh_client.post("/predict", json=GENUINE)
    fresh_client.post("/predict/batch", json=[FORGED, FORGED, GENUINE])
    fresh_client.post("/predict", json={"variance": "x"})
    fresh_client.get("/nope")
    response = fresh_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'http_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert 'http_requests_total{method="POST",route="/predict",status="422"} 1.0' in text
    assert 'http_requests_total{method="POST",route="/predict/batch",status="200"} 1.0' in text
    assert 'http_requests_total{method="GET",route="<unmatched>",status="404"} 1.0' in text
    assert 'http_request_duration_seconds_count{method="POST",route="/predict"} 2.0' in text
    assert 'predictions_total{prediction="genuine"} 2.0' in text
    assert 'predictions_total{prediction="forged"} 2.0' in text
    assert re.search(r'model_info\{created_at="[^"]+",model_version="[^"]+"\} 1\.0', text)


def test_openapi_has_the_original_summary_and_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    predict = schema["paths"]["/predict"]["post"]
    assert predict["summary"] == "Predict Bankbiljet"
    body = predict["requestBody"]["content"]["application/json"]
    assert body["examples"]["genuine"]["value"] == GENUINE
    assert body["examples"]["forged"]["value"] == FORGED
    assert body["schema"]["required"] == ["variance", "skewness", "curtosis", "entropy"]
    assert body["schema"]["additionalProperties"] is False
    assert set(predict["responses"]) >= {"200", "413", "415", "422"}
    batch = schema["paths"]["/predict/batch"]["post"]
    assert batch["requestBody"]["content"]["application/json"]["schema"]["maxItems"] == 50
    assert "/docs" not in schema["paths"]


def test_docs_show_the_models_own_words(client: TestClient) -> None:
    # The spec is the source of truth: every word below is read from it, none written here.
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == SPEC.api.title
    assert schema["info"]["description"].startswith(SPEC.api.description)
    predict = schema["paths"]["/predict"]["post"]
    assert predict["description"] == SPEC.api.predict_description
    row = predict["requestBody"]["content"]["application/json"]["schema"]
    assert list(row["properties"]) == list(SPEC.features)
    for name, field in row["properties"].items():
        assert field["description"] == SPEC.feature_info[name].description
    assert row["description"] == SPEC.api.row_description
    batch = schema["paths"]["/predict/batch"]["post"]
    assert batch["summary"] == SPEC.api.batch_summary
    answer = schema["components"]["schemas"]["Prediction"]
    positive = SPEC.classes[SPEC.positive].name
    assert list(answer["properties"]) == [
        "prediction",
        "label",
        f"probability_{positive}",
        "model_version",
    ]
    assert answer["properties"]["prediction"]["enum"] == [c.name for c in SPEC.classes.values()]
    assert answer["properties"]["label"]["enum"] == [c.label for c in SPEC.classes.values()]


def test_unknown_route_is_json_404(client: TestClient) -> None:
    response = client.get("/does/not/exist", headers={"x-request-id": "abc-123"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "request_id": "abc-123"}


def test_wrong_method_is_json_405(client: TestClient) -> None:
    response = client.get("/predict")
    assert response.status_code == 405
    assert response.json()["detail"] == "Method Not Allowed"
    assert "POST" in response.headers["allow"]


def test_security_headers_on_api_and_docs(client: TestClient) -> None:
    api = client.get("/health")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["x-frame-options"] == "DENY"
    assert api.headers["content-security-policy"].startswith("default-src 'none'")
    docs = client.get("/docs")
    csp = docs.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
    assert "unsafe-eval" not in csp


class TestRequestId:
    def test_generated_when_absent(self, client: TestClient) -> None:
        first = client.get("/health").headers["x-request-id"]
        second = client.get("/health").headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", first)
        assert first != second

    def test_valid_one_is_echoed(self, client: TestClient) -> None:
        rid = "3f2b9c1e-1234-4d5e-9f00-abcdefabcdef"
        response = client.get("/health", headers={"X-Request-ID": rid})
        assert response.headers["x-request-id"] == rid

    @pytest.mark.parametrize("bad", ["", "a" * 129, "has space", "<script>", "ü", "-leading"])
    def test_invalid_one_is_replaced(self, client: TestClient, bad: str) -> None:
        response = client.get("/health", headers={"X-Request-ID": bad.encode("utf-8")})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])

    def test_error_bodies_carry_it(self, client: TestClient) -> None:
        response = client.post("/predict", json={}, headers={"X-Request-ID": "req-42"})
        assert response.json()["request_id"] == "req-42"


def test_one_json_access_line_per_request(
    fresh_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    fresh_client.post("/predict", json=GENUINE, headers={"X-Request-ID": "line-1"})
    fresh_client.app.state.access_log.flush()  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    access = [line for line in lines if line.get("logger") == "api.access"]
    assert len(access) == 1
    entry = access[0]
    assert entry["method"] == "POST"
    assert entry["path"] == "/predict"
    assert entry["route"] == "/predict"
    assert entry["status"] == 200
    assert entry["request_id"] == "line-1"
    assert entry["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])
    # Request bodies never reach the log at info level.
    assert "3.6216" not in json.dumps(lines)


def test_unhandled_error_is_a_generic_500_with_the_request_id(
    fresh_client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    predictor = fresh_client.app.state.predictor  # type: ignore[attr-defined]

    def explode(*_: float) -> tuple[int, float]:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(predictor, "predict_one", explode)
    response = fresh_client.post("/predict", json=GENUINE, headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error", "request_id": "boom-1"}
    assert response.headers["x-request-id"] == "boom-1"
    assert "secret" not in response.text
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert errors[0].fields == {"request_id": "boom-1"}  # type: ignore[attr-defined]
    assert errors[0].exc_info is not None


def test_the_start_up_heap_is_frozen_while_serving(settings: Settings) -> None:
    # Full GC collections must not walk the objects built at start-up (api/lifespan.py).
    with TestClient(create_app(settings)):
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
