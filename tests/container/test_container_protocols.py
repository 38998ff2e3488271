"""The image speaks the standard protocols, to their own clients.

tritonclient.http with its defaults (binary tensors both ways) and MLflow's ScoringServerClient.
The clients stay on the test side (dev group): the image holds no new package
(test_container_image.py). The full conformance suite runs against `python -m api`
(tests/api/test_protocol_clients.py); this checks that the built image, read-only root and
non-root user included, answers the same as its own /predict/batch.
"""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton

from tests.container.support import FORGED_NOTE, GENUINE_NOTE, Container

with warnings.catch_warnings():
    # mlflow warns about its own type hints while its pyfunc package is imported.
    warnings.filterwarnings("ignore", ".*Any type hint is inferred as AnyType", UserWarning)
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

pytestmark = pytest.mark.container

NOTES = [GENUINE_NOTE, FORGED_NOTE, FORGED_NOTE, GENUINE_NOTE]
FEATURES = list(GENUINE_NOTE)  # the contract's order (test_container_image checks /model)


@pytest.fixture(scope="module")
def reference(client: httpx.Client) -> dict[str, Any]:
    """The image's own /predict/batch answers for NOTES, and the model's name and version."""
    answer = client.post("/predict/batch", json=NOTES)
    assert answer.status_code == 200, answer.text
    model = client.get("/model").json()
    items = answer.json()["predictions"]
    value = {c["name"]: c["value"] for c in model["classes"]}
    return {
        "labels": [value[item["prediction"]] for item in items],
        "forged": np.array([item["probability_forged"] for item in items], dtype=np.float32),
        "name": model["name"],  # the model spec's name: the protocols' model name
        "version": answer.json()["model_version"],
    }


def test_tritonclient_defaults_on_the_image(service: Container, reference: Any) -> None:
    client = triton.InferenceServerClient(service.url.removeprefix("http://"))
    name = reference["name"]
    assert client.is_server_ready()
    assert client.is_model_ready(name, reference["version"])
    rows = np.array([[note[f] for f in FEATURES] for note in NOTES], dtype=np.float32)
    tensor = triton.InferInput("features", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)  # binary_data=True: the client's default
    result = client.infer(name, [tensor])  # outputs: all of them, binary, the default
    assert result.get_response()["model_version"] == reference["version"]
    assert result.as_numpy("label").tolist() == reference["labels"]
    np.testing.assert_array_equal(result.as_numpy("probabilities")[:, 1], reference["forged"])


def test_mlflow_scoring_client_on_the_image(service: Container, reference: Any) -> None:
    scoring = ScoringServerClient("127.0.0.1", int(service.url.rsplit(":", 1)[1]))
    scoring.wait_server_ready(timeout=10)
    frame = pd.DataFrame(NOTES, columns=FEATURES)
    predictions = scoring.invoke(frame).get_predictions(predictions_format="ndarray")
    assert predictions.tolist() == reference["labels"]
