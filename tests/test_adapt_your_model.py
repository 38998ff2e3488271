"""A second model, end to end, exactly as docs/adapt-your-model.md tells a user to make it.

The guide's marked blocks are read and run in order, so the guide cannot drift from the code:
`<!-- adapt: file PATH -->` saves the next block as PATH, `<!-- adapt: run -->` runs it with
bash from the repository root, `<!-- adapt: serve -->` starts it in the background (real
uvicorn on 127.0.0.1) until the calls are done, and `<!-- adapt: call NAME -->` runs a block
against it and keeps its output for the checks below. `$WORK` is a temporary folder, as the
guide's `export WORK=...` sets it; the only change to the commands is the port: the service
gets a free one through PORT (a documented setting) and the calls are sent there.

The model differs from the banknote one in every way the issue names: three features instead of
four, a data file with a header row and an unused column, other class names and values (1 and
2), the positive class the larger value, a logistic regression from a factory defined next to
the spec, and the spec itself outside the repository.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "adapt-your-model.md"
MARKED = re.compile(r"<!-- adapt: (\w[\w-]*)(?: (\S+))? -->\n```\w*\n(.*?)^```", re.M | re.S)
DOCUMENTED_PORT = "127.0.0.1:8000"
pytestmark = [pytest.mark.server, pytest.mark.slow]
BANKNOTE_FIELDS = ("variance", "skewness", "curtosis", "entropy")


@dataclass(frozen=True)
class Step:
    """One marked block of the guide."""

    kind: str  # file, run, serve or call
    argument: str | None  # the file's path, or the call's name
    text: str


def guide_steps(text: str) -> list[Step]:
    """The guide's marked blocks, in order."""
    return [Step(kind, argument, block) for kind, argument, block in MARKED.findall(text)]


def bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@dataclass
class Walkthrough:
    """What following the guide produced."""

    work: Path
    port: int
    outputs: dict[str, str]  # call name -> its stdout
    served: dict[str, Any]  # what the running service answered to the test's own requests


def _wait_ready(url: str, server: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the guide's service exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the guide's service was not ready in 60 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walkthrough]:
    """Follow the guide from the first block to the last."""
    work = tmp_path_factory.mktemp("pump-model")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "WORK": str(work), "PORT": str(port)}
    env.pop("PYTHONPATH", None)  # only what the guide's commands set themselves
    outputs: dict[str, str] = {}
    served: dict[str, Any] = {}
    log = work / "server.log"
    with log.open("w") as log_file:
        yield from _follow(work, port, url, env, outputs, served, log, log_file)


def _follow(
    work: Path,
    port: int,
    url: str,
    env: dict[str, str],
    outputs: dict[str, str],
    served: dict[str, Any],
    log: Path,
    log_file: Any,
) -> Iterator[Walkthrough]:
    server: subprocess.Popen[str] | None = None
    try:
        for step in guide_steps(GUIDE.read_text()):
            if step.kind == "file":
                assert step.argument, "a file block without a path"
                assert step.argument.startswith("$WORK/"), step.argument
                (work / step.argument.removeprefix("$WORK/")).write_text(step.text)
            elif step.kind == "run":
                result = bash(step.text, env)
                assert result.returncode == 0, f"{step.text}\n{result.stdout}\n{result.stderr}"
            elif step.kind == "serve":
                server = subprocess.Popen(
                    ["bash", "-c", f"exec {step.text}"],
                    cwd=ROOT,
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                _wait_ready(url, server, log)
                served["openapi"] = httpx.get(f"{url}/openapi.json").json()
                served["docs"] = httpx.get(f"{url}/docs")
                served["model"] = httpx.get(f"{url}/model").json()
            elif step.kind == "call":
                assert server is not None, "the guide calls the service before serving it"
                assert step.argument
                script = step.text.replace(DOCUMENTED_PORT, f"127.0.0.1:{port}")
                result = bash(script, env)
                assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
                outputs[step.argument] = result.stdout
            else:
                pytest.fail(f"unknown marked block {step.kind!r} in {GUIDE}")
        if server is not None:
            # Stopped before the last steps (batch scoring), as the guide says; the
            # metrics must still show everything the calls sent.
            served["metrics"] = httpx.get(f"{url}/metrics").text
        yield Walkthrough(work, port, outputs, served)
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


def test_the_guide_has_every_step() -> None:
    steps = guide_steps(GUIDE.read_text())
    kinds = [step.kind for step in steps]
    assert kinds.count("serve") == 1
    assert {s.argument for s in steps if s.kind == "call"} == {
        "predict",
        "batch",
        "openapi",
        "old-fields",
        "metrics",
        "smoke",
    }
    runs = "\n".join(s.text for s in steps if s.kind == "run")
    assert "-m model train --spec" in runs
    assert "-m model predict" in runs
    assert kinds.index("serve") < kinds.index("call")


def test_training_wrote_the_specs_contract(walkthrough: Walkthrough) -> None:
    metadata = json.loads((walkthrough.work / "model" / "metadata.json").read_text())
    model = metadata["contract"]
    assert model["name"] == "pump"
    assert [f["name"] for f in model["features"]] == ["temperature", "vibration", "hours"]
    assert [f["unit"] for f in model["features"]] == ["°C", "mm/s", None]
    assert [(c["value"], c["name"]) for c in model["classes"]] == [(1, "ok"), (2, "worn")]
    assert model["positive_class"] == 2
    # The examples are rows of the data file, one per class, with their line numbers.
    with (walkthrough.work / "readings.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for example in model["examples"]:
        row = rows[example["line"] - 2]  # line 1 is the header
        assert int(row["condition"]) == example["class_value"]
        assert {k: float(row[k]) for k in example["values"]} == example["values"]
    assert metadata["hyperparameters"]["estimator"] == "pump_model:logistic_regression"
    assert "LogisticRegression" in metadata["hyperparameters"]["fitted"]
    card = (walkthrough.work / "model" / "MODEL_CARD.md").read_text()
    assert "| `temperature` | Bearing temperature. | °C |" in card
    assert "Precision (worn)" in card


def test_predict_answers_in_the_models_own_fields(walkthrough: Walkthrough) -> None:
    answer = json.loads(walkthrough.outputs["predict"])
    assert list(answer) == ["prediction", "label", "probability_worn", "model_version"]
    assert (answer["prediction"], answer["label"]) == ("worn", "Pump needs service")
    assert answer["probability_worn"] > 0.5
    assert answer["model_version"] == walkthrough.served["model"]["model_version"]


def test_predict_batch_answers_in_request_order(walkthrough: Walkthrough) -> None:
    answer = json.loads(walkthrough.outputs["batch"])
    assert answer["count"] == 2
    assert [p["prediction"] for p in answer["predictions"]] == ["worn", "ok"]
    assert [p["label"] for p in answer["predictions"]] == ["Pump needs service", "Pump in order"]
    assert all(set(p) == {"prediction", "label", "probability_worn"} for p in answer["predictions"])


def test_docs_show_the_new_fields_descriptions_units_and_examples(walkthrough: Walkthrough) -> None:
    saved = json.loads((walkthrough.work / "openapi.json").read_text())
    assert saved == walkthrough.served["openapi"]
    predict = saved["paths"]["/predict"]["post"]
    body = predict["requestBody"]["content"]["application/json"]
    properties = body["schema"]["properties"]
    assert list(properties) == ["temperature", "vibration", "hours"]
    assert properties["temperature"]["description"] == "Bearing temperature. Unit: °C."
    assert properties["hours"]["description"].startswith("hours: from ")
    assert body["schema"]["title"] == "Reading"
    assert body["schema"]["required"] == ["temperature", "vibration", "hours"]
    examples = walkthrough.served["model"]["examples"]
    assert body["examples"] == {
        "ok": {"summary": "An ok reading (class 1)", "value": examples[0]["features"]},
        "worn": {"summary": "A worn reading (class 2)", "value": examples[1]["features"]},
    }
    answer = saved["components"]["schemas"]["Prediction"]["properties"]
    assert list(answer) == ["prediction", "label", "probability_worn", "model_version"]
    assert answer["prediction"]["enum"] == ["ok", "worn"]
    assert not any(field in json.dumps(saved) for field in BANKNOTE_FIELDS)
    assert "probability_forged" not in json.dumps(saved)
    docs = walkthrough.served["docs"]
    assert docs.status_code == 200
    assert "openapi.json" in docs.text


def test_the_banknote_fields_are_refused_naming_each_field(walkthrough: Walkthrough) -> None:
    answer = json.loads(walkthrough.outputs["old-fields"])
    problems = {(tuple(e["loc"]), e["type"]) for e in answer["detail"]}
    for feature in ("temperature", "vibration", "hours"):
        assert (("body", feature), "missing") in problems
    for feature in BANKNOTE_FIELDS:
        assert (("body", feature), "extra_forbidden") in problems


def test_drift_is_counted_per_feature_under_the_models_name(walkthrough: Walkthrough) -> None:
    shown = walkthrough.outputs["metrics"].splitlines()
    assert len(shown) == 3 * 2  # three features, below and above
    assert all(line.startswith("pump_input_out_of_range_total{") for line in shown)
    metrics = walkthrough.served["metrics"]
    for feature in ("temperature", "vibration", "hours"):
        assert f'pump_input_value_count{{feature="{feature}"}}' in metrics
    assert "banknote_input" not in metrics
    # /predict one worn, /predict/batch a worn and an ok, the smoke test one of each; the
    # banknote fields' 422 scored nothing.
    assert 'predictions_total{prediction="worn"} 3.0' in metrics
    assert 'predictions_total{prediction="ok"} 2.0' in metrics


def test_the_smoke_test_takes_its_rows_from_the_service(walkthrough: Walkthrough) -> None:
    output = walkthrough.outputs["smoke"]
    assert "PASS POST /predict ok example: ok" in output
    assert "PASS POST /predict worn example: worn" in output
    assert "all 5 checks passed" in output


def test_batch_scoring_writes_the_models_columns(walkthrough: Walkthrough) -> None:
    with (walkthrough.work / "scored.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["pump_id"] for r in rows] == ["P9001", "P9002"]
    assert [r["prediction"] for r in rows] == ["worn", "ok"]
    assert [r["label"] for r in rows] == ["Pump needs service", "Pump in order"]
    assert float(rows[0]["probability_worn"]) > 0.5 > float(rows[1]["probability_worn"])
    assert not (walkthrough.work / "scored.rejects.csv").exists()
