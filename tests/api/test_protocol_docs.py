"""docs/protocols.md's examples, run as a reader runs them against a real `python -m api`.

Every `sh` block that calls the service is run with bash (the documented 127.0.0.1:8000 swapped
for the test server's address), and every Python block with the dev environment's Python. Their
answers are compared with what the page shows next to them, and the error examples with what
the service answers to the requests they describe. Nothing here repeats a sentence of the page:
the page's own blocks are the input.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.docs.pages import page

pytestmark = pytest.mark.server

PROTOCOLS = page("protocols.md")
DOCUMENTED = "127.0.0.1:8000"
ONES = [1.0] * 4
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str, heading: str | None = None) -> list[str]:
    text = PROTOCOLS.section(heading) if heading else PROTOCOLS.text
    return [body for lang, body in _BLOCK.findall(text) if lang == language]


def run_sh(script: str, server: Any) -> Any:
    address = server.url.removeprefix("http://")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace(DOCUMENTED, address)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{PROTOCOLS.name}:\n{script}\n{result.stderr}"
    return json.loads(result.stdout)


def test_every_mlflow_input_format_answers_as_the_page_says(server: Any) -> None:
    scripts = blocks("sh", "The input formats")
    formats = {"dataframe_split", "dataframe_records", "instances", "inputs", "text/csv"}
    assert all(any(f in s for s in scripts) for f in formats), f"{PROTOCOLS.name}: one per format"
    # "all answer {"predictions": [0]}", as the section's prose states it.
    stated = re.search(r"all answer `(\{.*?\})`", PROTOCOLS.section("The input formats"))
    assert stated, f"{PROTOCOLS.name}: the answer the input formats give"
    for script in scripts:
        assert run_sh(script, server) == json.loads(stated[1]), script


def test_the_v2_json_example_answers_what_the_page_shows(server: Any) -> None:
    (script,) = blocks("sh", "With JSON tensors")
    (shown,) = blocks("json", "With JSON tensors")
    answer, expected = run_sh(script, server), json.loads(shown)
    assert answer["model_name"] == expected["model_name"]
    assert answer["id"] == expected["id"]
    for got, documented in zip(answer["outputs"], expected["outputs"], strict=True):
        assert {k: v for k, v in got.items() if k != "data"} == {
            k: v for k, v in documented.items() if k != "data"
        }
        # The probabilities are shown rounded; the labels exactly.
        assert got["data"] == pytest.approx(documented["data"], abs=1e-6)


def test_the_model_metadata_shown_is_the_served_one(server: Any) -> None:
    shown = json.loads(blocks("json", "Open Inference Protocol v2")[0])
    served = httpx.get(f"{server.url}/v2/models/{shown['name']}").json()
    assert {k: v for k, v in served.items() if k != "versions"} == {
        k: v for k, v in shown.items() if k != "versions"
    }


@pytest.mark.parametrize(
    ("path", "body", "heading"),
    [
        (
            "/v2/models/banknote/infer",
            {"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP64", "data": ONES}]},
            "Open Inference Protocol v2",
        ),
        ("/v2/models/nope/infer", {}, "Open Inference Protocol v2"),
        (
            "/invocations",
            {"dataframe_records": [{"variance": 3.6216, "skewness": 8.6661, "curtosis": -2.8073}]},
            "MLflow's scoring protocol",
        ),
    ],
    ids=["v2-datatype", "v2-unknown-model", "mlflow-missing-column"],
)
def test_the_error_examples_are_the_service_s_own(
    server: Any, path: str, body: dict[str, Any], heading: str
) -> None:
    answer = httpx.post(f"{server.url}{path}", json=body)
    assert 400 <= answer.status_code < 500
    section = PROTOCOLS.section(heading)
    shown = [json.loads(m) for m in re.findall(r"`(\{\"error.*?\})`", section)]
    shown += [json.loads(b) for b in blocks("json", heading) if b.lstrip().startswith('{"error')]
    assert answer.json() in shown, f"{PROTOCOLS.name}, {heading!r}: {answer.json()}"


@pytest.mark.parametrize("client", ["tritonclient", "ScoringServerClient"])
def test_the_python_examples_run(server: Any, client: str) -> None:
    (script,) = [b for b in blocks("python") if client in b]
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    source = script.replace(DOCUMENTED, f"{host}:{port}").replace(
        f'"{host}", 8000', f'"{host}", {port}'
    )
    result = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"{PROTOCOLS.name}:\n{source}\n{result.stderr}"
    assert result.stdout.strip(), "the example prints its answer"
