"""One service behind every protocol: the Open Inference Protocol and MLflow's /invocations share
/predict's metrics (route templates, predictions per class), drift counting, size and row limits,
request ids and readiness (the drain), each answering errors in its own protocol's shape."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tests.banknote import DATA_PATH, FEATURES, FORGED, GENUINE

ROWS = np.loadtxt(DATA_PATH, delimiter=",")[:, : len(FEATURES)]
INFER = "/v2/models/banknote/infer"


def v2_body(rows: np.ndarray | list[list[float]]) -> dict[str, Any]:
    rows = np.asarray(rows, dtype=np.float64)
    return {
        "inputs": [
            {
                "name": "features",
                "shape": list(rows.shape),
                "datatype": "FP32",
                "data": rows.tolist(),
            }
        ]
    }


def split_body(rows: np.ndarray | list[list[float]]) -> dict[str, Any]:
    return {"dataframe_split": {"columns": list(FEATURES), "data": np.asarray(rows).tolist()}}


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: dict[Any, float], name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_predictions_drift_and_routes_are_counted_for_every_protocol(
    fresh_client: TestClient,
) -> None:
    rows = [list(GENUINE.values()), list(FORGED.values()), [99.0, 0.0, 0.0, 0.0]]
    assert fresh_client.post(INFER, json=v2_body(rows)).status_code == 200
    assert fresh_client.post(INFER, json=v2_body(rows[1:2])).status_code == 200  # coalesced
    assert fresh_client.post("/invocations", json=split_body(rows)).status_code == 200
    assert fresh_client.post("/invocations", json=split_body(rows[:1])).status_code == 200
    versioned = fresh_client.get("/v2/models/banknote").json()["versions"][0]
    path = f"/v2/models/banknote/versions/{versioned}/infer"
    assert fresh_client.post(path, json=v2_body(rows[:1])).status_code == 200
    after = scrape(fresh_client)
    # Classes of rows: v2 3 rows + 1 forged + mlflow 3 rows + 1 genuine + v2 1 genuine.
    forged_far = fresh_client.post("/predict", json=dict(zip(FEATURES, rows[2], strict=True)))
    far_is_forged = forged_far.json()["prediction"] == "forged"
    expected_forged = 1 + 1 + 1 + (2 if far_is_forged else 0)
    assert value(after, "predictions_total", prediction="forged") == expected_forged
    assert value(after, "predictions_total", prediction="genuine") == 9 - expected_forged
    # Drift: the variance of 99 is above the training maximum, once per protocol.
    assert (
        value(after, "banknote_input_out_of_range_total", feature="variance", direction="above")
        == 2
    )
    assert value(after, "banknote_input_value_count", feature="entropy") == 9
    for route, count in (
        ("/v2/models/{model_name}/infer", 2),
        ("/v2/models/{model_name}/versions/{model_version}/infer", 1),
        ("/invocations", 2),
    ):
        assert (
            value(after, "http_requests_total", method="POST", route=route, status="200") == count
        )


def test_request_ids_and_security_headers(client: TestClient) -> None:
    for path, body in ((INFER, v2_body(ROWS[:2])), ("/invocations", split_body(ROWS[:2]))):
        answer = client.post(path, json=body, headers={"X-Request-ID": "protocol-7"})
        assert answer.headers["x-request-id"] == "protocol-7"
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_body_limit_answers_in_each_protocols_shape(client: TestClient) -> None:
    big = b"[" + b"0," * 5000 + b"0]"  # over the tests' 8192-byte limit
    v2 = client.post(INFER, content=big)
    assert v2.status_code == 413
    assert v2.json() == {"error": "Request body is larger than 8192 bytes"}
    mlflow = client.post("/invocations", content=big, headers={"content-type": "application/json"})
    assert mlflow.status_code == 413
    assert mlflow.json() == {
        "error_code": "BAD_REQUEST",
        "message": "Request body is larger than 8192 bytes",
    }
    own = client.post("/predict/batch", content=big, headers={"content-type": "application/json"})
    assert own.json()["detail"][0]["type"] == "too_large"


def test_row_limit_is_the_batch_limit(client: TestClient, settings: Any) -> None:
    over = ROWS[: settings.max_batch_rows + 1]
    v2 = client.post(INFER, json=v2_body(over))
    assert v2.status_code == 400
    assert "more than the limit of 50 rows" in v2.json()["error"]
    mlflow = client.post("/invocations", json=split_body(over))
    assert mlflow.status_code == 400
    assert "more than the limit of 50 rows" in mlflow.json()["message"]


def test_compressed_bodies_are_415(client: TestClient) -> None:
    answer = client.post(INFER, content=b"\x1f\x8b", headers={"content-encoding": "gzip"})
    assert answer.status_code == 415
    assert "Content-Encoding 'gzip'" in answer.json()["error"]


def test_readiness_turns_with_the_drain(fresh_client: TestClient) -> None:
    ready = ("/v2/health/ready", "/v2/models/banknote/ready")
    assert [fresh_client.get(p).status_code for p in ready] == [200, 200]
    fresh_client.app.state.shutdown.begun = True  # type: ignore[attr-defined]  # what SIGTERM does
    assert fresh_client.get("/ready").status_code == 503
    answers = [fresh_client.get(p) for p in ready]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].json() == {"ready": False}
    assert answers[1].json() == {"name": "banknote", "ready": False}
    # Liveness and everything else still answer during the drain.
    assert fresh_client.get("/v2/health/live").json() == {"live": True}
    assert fresh_client.get("/ping").status_code == 200
    assert fresh_client.post(INFER, json=v2_body(ROWS[:1])).status_code == 200


def test_without_a_model_nothing_is_ready_and_nothing_is_scored(settings: Any) -> None:
    from api.main import create_app

    app = create_app(settings)  # no lifespan: no model loaded
    with TestClient(app, raise_server_exceptions=False) as raw:
        app.state.predictor = app.state.coalescer = None
        assert raw.get("/v2/health/ready").status_code == 400
        assert raw.get("/v2/models/banknote/ready").status_code == 400
        assert raw.get("/v2/models/banknote").status_code == 400
        assert raw.get("/ping").status_code == 404
        assert raw.post(INFER, json=v2_body(ROWS[:1])).json() == {
            "error": "the model is not loaded"
        }
        assert raw.post("/invocations", json=split_body(ROWS[:1])).status_code == 503


def test_v2_one_row_equals_predict(client: TestClient) -> None:
    for note in (GENUINE, FORGED):
        single = client.post("/predict", json=note).json()
        answer = client.post(INFER, json=v2_body([list(note.values())])).json()
        outputs = {o["name"]: o["data"] for o in answer["outputs"]}
        assert outputs["label"] == [{"genuine": 0, "forged": 1}[single["prediction"]]]
        assert np.float32(outputs["probabilities"][1]) == np.float32(single["probability_forged"])


# Bodies and headers of any kind: never a 5xx, always the protocol's error shape.
json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)
tensors = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["features", "x"]),
        "shape": st.lists(st.integers(-2, 6), max_size=3),
        "datatype": st.sampled_from(["FP32", "FP64", "BYTES", "INT64"]),
    },
    optional={
        "data": json_values,
        "parameters": st.dictionaries(
            st.sampled_from(["binary_data_size", "shared_memory_region", "x"]), json_values
        ),
    },
)
v2_requests = st.fixed_dictionaries(
    {"inputs": st.lists(tensors, max_size=2)},
    optional={
        "id": json_values,
        "parameters": st.dictionaries(st.sampled_from(["binary_data_output", "x"]), json_values),
        "outputs": st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["label", "probabilities", "other"])},
                optional={"parameters": st.dictionaries(st.text(max_size=12), json_values)},
            ),
            max_size=3,
        ),
    },
)
common = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@common
@given(
    body=v2_requests | json_values,
    tail=st.binary(max_size=40),
    header=st.none() | st.integers(-5, 400).map(str) | st.from_regex(r"[!-~]{0,5}", fullmatch=True),
)
def test_any_v2_request_gets_no_5xx(
    client: TestClient, body: Any, tail: bytes, header: Any
) -> None:
    head = json.dumps(body).encode()
    headers = {} if header is None else {"Inference-Header-Content-Length": header}
    answer = client.post(INFER, content=head + tail, headers=headers)
    assert answer.status_code in (200, 400, 413, 415)
    if answer.status_code != 200:
        assert set(answer.json()) == {"error"} or answer.status_code == 413


@common
@given(
    body=st.dictionaries(
        st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs", "params"]),
        json_values,
        max_size=2,
    )
    | json_values,
    content_type=st.sampled_from(
        ["application/json", "text/csv", "text/plain", "application/json; charset=latin-1"]
    ),
)
def test_any_invocation_gets_no_5xx(client: TestClient, body: Any, content_type: str) -> None:
    content = body if isinstance(body, str) else json.dumps(body)
    answer = client.post("/invocations", content=content, headers={"content-type": content_type})
    assert answer.status_code in (200, 400, 413, 415)
    if answer.status_code == 400:
        assert set(answer.json()) == {"error_code", "message"}


@common
@given(text=st.text(max_size=200))
def test_any_csv_gets_no_5xx(client: TestClient, text: str) -> None:
    body = ",".join(FEATURES) + "\n" + text
    answer = client.post("/invocations", content=body, headers={"content-type": "text/csv"})
    assert answer.status_code in (200, 400)


@pytest.mark.parametrize("count", [1, 2, 7])
def test_v2_binary_over_http_matches_json(client: TestClient, count: int) -> None:
    rows = ROWS[:count].astype(np.float32)
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "features",
                    "shape": [count, 4],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": rows.nbytes},
                }
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    ).encode()
    answer = client.post(
        INFER,
        content=head + rows.tobytes(),
        headers={"Inference-Header-Content-Length": str(len(head))},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/octet-stream"
    length = int(answer.headers["inference-header-content-length"])
    binary = np.frombuffer(answer.content[length:], dtype="<f4").reshape(count, 2)
    as_json = client.post(INFER, json=v2_body(rows)).json()["outputs"][1]["data"]
    np.testing.assert_array_equal(binary.reshape(-1), np.array(as_json, dtype=np.float32))
