"""Conformance with the protocols' own clients against a real `python -m api` on loopback:
tritonclient.http (Open Inference Protocol v2) with its defaults (binary tensors in and out)
and with JSON tensors, and MLflow's ScoringServerClient with every input format. Every answer
agrees with /predict/batch on the same rows: labels equal, probabilities equal to float32
precision (both are the ONNX model's float32 numbers)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.banknote import DATA_PATH, FEATURES

with warnings.catch_warnings():
    # mlflow 3.18 warns about its own type hints while its pyfunc package is imported.
    warnings.filterwarnings("ignore", ".*Any type hint is inferred as AnyType", UserWarning)
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

pytestmark = pytest.mark.server

ROWS = np.loadtxt(DATA_PATH, delimiter=",")[:, : len(FEATURES)]
CLASS_VALUE = {"genuine": 0, "forged": 1}


@pytest.fixture(scope="module")
def batch(server: Any) -> dict[str, Any]:
    """/predict/batch's answers for every row of the dataset: the reference."""
    body = [dict(zip(FEATURES, row, strict=True)) for row in ROWS.tolist()]
    answer = httpx.post(f"{server.url}/predict/batch", json=body, timeout=30)
    assert answer.status_code == 200
    items = answer.json()["predictions"]
    return {
        "labels": np.array([CLASS_VALUE[item["prediction"]] for item in items]),
        "forged": np.array([item["probability_forged"] for item in items]),
        "version": answer.json()["model_version"],
    }


@pytest.fixture(scope="module")
def client(server: Any) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(server.url.removeprefix("http://"))


def features_input(rows: np.ndarray, binary: bool = True) -> triton.InferInput:
    tensor = triton.InferInput("features", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows.astype(np.float32), binary_data=binary)
    return tensor


def assert_agrees(result: triton.InferResult, batch: dict[str, Any], rows: slice) -> None:
    labels = result.as_numpy("label")
    probabilities = result.as_numpy("probabilities")
    assert labels.dtype == np.int64
    assert probabilities.dtype == np.float32
    np.testing.assert_array_equal(labels, batch["labels"][rows])
    # /predict/batch answers the same float32 numbers, widened to float64 for JSON.
    np.testing.assert_array_equal(probabilities[:, 1], batch["forged"][rows].astype(np.float32))
    np.testing.assert_array_equal(labels, probabilities.argmax(axis=1))


def test_triton_health_and_metadata(client: triton.InferenceServerClient, batch: Any) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("banknote")
    assert client.is_model_ready("banknote", batch["version"])
    assert not client.is_model_ready("banknote", "no-such-version")
    assert not client.is_model_ready("another-model")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    metadata = client.get_model_metadata("banknote")
    assert metadata == client.get_model_metadata("banknote", batch["version"])
    assert metadata["versions"] == [batch["version"]]
    assert metadata["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}]
    assert metadata["outputs"] == [
        {"name": "label", "datatype": "INT64", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]},
    ]


def test_triton_defaults_binary_in_and_out(client: Any, batch: dict[str, Any]) -> None:
    result = client.infer("banknote", [features_input(ROWS)])
    outputs = result.get_response()["outputs"]
    assert all("binary_data_size" in o["parameters"] for o in outputs)  # binary came back
    assert_agrees(result, batch, slice(None))


def test_triton_json_in_and_out(client: Any, batch: dict[str, Any]) -> None:
    outputs = [
        triton.InferRequestedOutput(n, binary_data=False) for n in ("label", "probabilities")
    ]
    result = client.infer(
        "banknote",
        [features_input(ROWS[:300], binary=False)],
        outputs=outputs,
        model_version=batch["version"],
        request_id="conformance-1",
    )
    response = result.get_response()
    assert response["id"] == "conformance-1"
    assert response["model_version"] == batch["version"]
    assert all("data" in o for o in response["outputs"])
    assert_agrees(result, batch, slice(0, 300))


def test_triton_one_row_at_a_time(client: Any, batch: dict[str, Any]) -> None:
    for index in (0, 762, 1371):
        rows = ROWS[index : index + 1]
        for binary in (True, False):
            result = client.infer("banknote", [features_input(rows, binary)])
            assert_agrees(result, batch, slice(index, index + 1))


def test_triton_one_output(client: Any, batch: dict[str, Any]) -> None:
    outputs = [triton.InferRequestedOutput("probabilities")]
    result = client.infer("banknote", [features_input(ROWS[:10])], outputs=outputs)
    assert [o["name"] for o in result.get_response()["outputs"]] == ["probabilities"]
    assert result.as_numpy("label") is None


def test_triton_errors(client: Any) -> None:
    with pytest.raises(InferenceServerException) as unknown:
        client.infer("another-model", [features_input(ROWS[:2])])
    assert unknown.value.status() == "404"
    assert "unknown model 'another-model'" in unknown.value.message()
    with pytest.raises(InferenceServerException) as version:
        client.infer("banknote", [features_input(ROWS[:2])], model_version="0")
    assert version.value.status() == "404"
    wrong = triton.InferInput("features", [2, 4], "FP64")
    wrong.set_data_from_numpy(ROWS[:2].astype(np.float64))
    with pytest.raises(InferenceServerException) as datatype:
        client.infer("banknote", [wrong])
    assert datatype.value.status() == "400"
    assert "datatype 'FP64'" in datatype.value.message()
    broken = ROWS[:2].astype(np.float32)
    broken[0, 0] = np.inf
    with pytest.raises(InferenceServerException, match="not a finite number"):
        client.infer("banknote", [features_input(broken)])
    with pytest.raises(InferenceServerException) as metadata:
        client.get_model_metadata("another-model")
    assert metadata.value.status() == "404"


@pytest.fixture(scope="module")
def mlflow(server: Any) -> ScoringServerClient:
    port = int(server.url.rsplit(":", 1)[1])
    scoring = ScoringServerClient("127.0.0.1", port)
    scoring.wait_server_ready(timeout=10)
    return scoring


FRAME = pd.DataFrame(ROWS, columns=list(FEATURES))


@pytest.mark.parametrize(
    "data",
    [
        FRAME,  # dataframe_split
        FRAME[list(reversed(FEATURES))],  # dataframe_split, columns in another order
        ROWS,  # inputs: a list of rows
        {name: FRAME[name].to_numpy() for name in FEATURES},  # inputs: a dictionary of columns
    ],
    ids=["dataframe", "dataframe-reordered", "ndarray", "dict-of-columns"],
)
def test_mlflow_client_invoke(mlflow: ScoringServerClient, batch: Any, data: Any) -> None:
    predictions = mlflow.invoke(data).get_predictions(predictions_format="ndarray")
    np.testing.assert_array_equal(predictions, batch["labels"])


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", {"dataframe_records": FRAME.to_dict(orient="records")}),
        ("application/json", {"instances": FRAME.to_dict(orient="records")}),
        ("application/json", {"instances": ROWS.tolist()}),
        ("application/json", {"inputs": FRAME.to_dict(orient="list")}),
        ("application/json", {"dataframe_split": FRAME.to_dict(orient="split")}),
        ("text/csv", FRAME.to_csv(index=False)),
    ],
    ids=["records", "instances-records", "instances-rows", "inputs-columns", "split", "csv"],
)
def test_mlflow_every_format(server: Any, batch: Any, content_type: str, body: Any) -> None:
    content = body if isinstance(body, str) else json.dumps(body)
    answer = httpx.post(
        f"{server.url}/invocations", content=content, headers={"content-type": content_type}
    )
    assert answer.status_code == 200
    assert answer.json() == {"predictions": batch["labels"].tolist()}


def test_mlflow_ping_version_and_errors(mlflow: ScoringServerClient, server: Any) -> None:
    mlflow.ping()
    assert mlflow.get_version() == httpx.get(f"{server.url}/version").text
    with pytest.raises(Exception, match="error code 400") as missing:
        mlflow.invoke(FRAME.drop(columns=["entropy"]))
    assert "missing inputs ['entropy']" in str(missing.value)
    answer = httpx.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3, "x"]]})
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "BAD_REQUEST"
