"""The built image, run for real: contract, hardening, labels, health check.

`docker stop` under load: test_container_shutdown.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from infra.pinned_image import MODEL_NAME_LABEL, MODEL_VERSION_LABEL
from tests.container.support import FORGED_NOTE, GENUINE_NOTE, Container, docker

pytestmark = pytest.mark.container

SERVICE_UID = 10001
# Packages and files that must never reach the serving image.
FORBIDDEN_MODULES = ("sklearn", "scipy", "pandas", "joblib", "skl2onnx", "pip", "pytest", "model")
HEALTHY_TIMEOUT_S = 60.0


def test_root_returns_the_original_message(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {"message": "FastAPI zegt Hallo Wereld"}


@pytest.mark.parametrize(
    ("note", "prediction", "label"),
    [(GENUINE_NOTE, "genuine", "Goed bankbiljet"), (FORGED_NOTE, "forged", "Vals bankbiljet")],
    ids=["genuine", "forged"],
)
def test_predict_classifies_known_notes(
    client: httpx.Client,
    image_artifact: dict[str, Any],
    note: dict[str, float],
    prediction: str,
    label: str,
) -> None:
    response = client.post("/predict", json=note)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["prediction"] == prediction
    assert body["label"] == label
    assert 0.0 <= body["probability_forged"] <= 1.0
    assert (body["probability_forged"] > 0.5) == (prediction == "forged")
    assert body["model_version"] == image_artifact["model_version"]


def test_predict_batch_answers_in_order(client: httpx.Client) -> None:
    notes = [GENUINE_NOTE, FORGED_NOTE, FORGED_NOTE, GENUINE_NOTE]
    response = client.post("/predict/batch", json=notes)
    assert response.status_code == 200, response.text
    body = response.json()
    results = body["predictions"] if isinstance(body, dict) else body
    assert [r["prediction"] for r in results] == ["genuine", "forged", "forged", "genuine"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({k: v for k, v in GENUINE_NOTE.items() if k != "entropy"}, "entropy"),
        ({**GENUINE_NOTE, "variance": "veel"}, "variance"),
    ],
    ids=["missing-field", "string-value"],
)
def test_bad_input_is_422_naming_the_field(
    client: httpx.Client, payload: dict[str, Any], field: str
) -> None:
    response = client.post("/predict", json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/json")
    assert field in response.text


def test_health_and_ready(client: httpx.Client) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200


def test_metrics_are_prometheus_text_with_the_model_version(
    client: httpx.Client, image_artifact: dict[str, Any]
) -> None:
    client.post("/predict", json=GENUINE_NOTE)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE " in response.text
    assert image_artifact["model_version"] in response.text


def test_model_endpoint_reports_the_artifact_in_the_image(
    client: httpx.Client, image_artifact: dict[str, Any]
) -> None:
    response = client.get("/model")
    assert response.status_code == 200
    assert image_artifact["model_version"] in json.dumps(response.json())


def test_service_process_runs_as_the_fixed_non_root_user(service: Container) -> None:
    # PID 1 is the service itself (exec-form CMD); its real, effective, saved and fs UIDs.
    status = docker("exec", service.id, "cat", "/proc/1/status").stdout
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == [str(SERVICE_UID)] * 4
    cmdline = docker("exec", service.id, "cat", "/proc/1/cmdline").stdout
    assert cmdline.split("\0")[1:3] == ["-m", "api"]


def test_container_runs_with_a_read_only_root(service: Container) -> None:
    assert service.inspect()["HostConfig"]["ReadonlyRootfs"] is True
    attempt = docker("exec", service.id, "touch", "/app/probe", check=False)
    assert attempt.returncode != 0


def test_app_files_are_not_writable_by_the_service_user(image: str) -> None:
    # Without --read-only, so only file ownership and modes stand between the user and the files.
    script = (
        "import os\n"
        "bad = [os.path.join(d, n) for top in ('/app', '/opt/venv')\n"
        "       for d, dirs, files in os.walk(top) for n in ['.', *dirs, *files]\n"
        "       if os.access(os.path.join(d, n), os.W_OK)]\n"
        "print('\\n'.join(bad[:20]))\n"
    )
    result = docker(
        "run", "--rm", "--network", "host", "--entrypoint", "python", image, "-c", script
    )
    assert result.stdout.strip() == ""


def test_image_holds_only_the_serving_code_and_model(image: str) -> None:
    script = (
        "import importlib.util, json, os\n"
        f"found = [m for m in {FORBIDDEN_MODULES!r} if importlib.util.find_spec(m)]\n"
        "print(json.dumps([found, sorted(os.listdir('/app')),\n"
        "                  sorted(os.listdir('/app/artifacts/model'))]))\n"
    )
    # From /tmp with no PYTHONPATH, so nothing but the venv is importable.
    result = docker(
        "run", "--rm", "--network", "host", "--workdir", "/tmp", "--env", "PYTHONPATH=",
        "--entrypoint", "python", image, "-c", script,
    )  # fmt: skip
    found, app_files, model_files = json.loads(result.stdout)
    assert found == []
    assert app_files == ["api", "artifacts", "contract"]
    assert model_files == ["MODEL_CARD.md", "metadata.json", "model.onnx"]


def test_labels_name_revision_model_and_base(
    image: str, image_artifact: dict[str, Any], image_revision: str, base_image: str
) -> None:
    labels = json.loads(
        docker("image", "inspect", "--format", "{{json .Config.Labels}}", image).stdout
    )
    assert labels["org.opencontainers.image.revision"] == image_revision
    # The model's name and version, as infra/pinned_image.py reads them back from a registry.
    assert labels[MODEL_VERSION_LABEL] == image_artifact["model_version"]
    assert labels[MODEL_NAME_LABEL] == image_artifact["contract"]["name"] == "banknote"
    assert labels["org.opencontainers.image.base.name"] == base_image
    assert labels["org.opencontainers.image.source"]


def test_image_config_port_user_and_exec_form_command(image: str) -> None:
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image).stdout)
    assert "8000/tcp" in config["ExposedPorts"]
    assert config["User"] == f"{SERVICE_UID}:{SERVICE_UID}"
    assert config["Cmd"] == ["/opt/venv/bin/python", "-m", "api"]
    assert config.get("Entrypoint") in (None, [])
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PORT"] == "8000"
    for name in ("WORKERS", "ORT_INTRA_OP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        assert env[name] == "1"


def test_health_check_turns_healthy(service: Container) -> None:
    deadline = time.monotonic() + HEALTHY_TIMEOUT_S
    status = None
    while time.monotonic() < deadline:
        status = service.inspect()["State"]["Health"]["Status"]
        if status == "healthy":
            break
        time.sleep(0.5)
    assert status == "healthy", service.inspect()["State"]["Health"]
