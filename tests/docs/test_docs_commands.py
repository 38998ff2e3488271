"""Commands the pages tell a reader to type exist as written: make targets, workflow inputs,
the service's settings and options, and the README's quick start."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import PurePath
from typing import TYPE_CHECKING

from api.config import Settings
from tests.container.test_newcomer import readme_instructions
from tests.docs.pages import ROOT, all_pages, code, page
from tests.workflows.pipeline import load_workflows

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

DEVELOPMENT = page("development.md")
API = page("api.md")


def makefile_targets() -> dict[str, str]:
    """target -> its `##` help text ("" when it has none)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {
        m[1]: (m[2] or "").strip()
        for m in re.finditer(r"^([a-z][a-z-]*):[^=\n]*?(?:## (.*))?$", makefile, re.MULTILINE)
    }


def test_every_make_command_in_the_docs_exists() -> None:
    targets = makefile_targets()
    for doc in all_pages():
        # A command: at the start of a line or of a `code span` (not "apt-get install make git").
        for target in re.findall(r"(?:^|`)make ([a-z][a-z-]*)\b", doc.text, re.MULTILINE):
            assert target in targets, f"{doc.name}: `make {target}` is not a Makefile target"


def test_the_make_targets_table_lists_every_command_make_help_shows() -> None:
    documented = {code(row["command"])[0].split()[1] for row in DEVELOPMENT.table("Make targets")}
    helped = {target for target, text in makefile_targets().items() if text}
    assert documented == helped - {"help"}, f"{DEVELOPMENT.name}: the make targets table"


def test_every_dispatch_input_the_docs_name_exists() -> None:
    workflows = load_workflows()
    seen = set()
    for doc in all_pages():
        for file, flags in re.findall(
            r"gh workflow run ([\w-]+\.yml) --ref main((?: -f [\w-]+=\S*)+)", doc.text
        ):
            inputs = workflows[file]["on"]["workflow_dispatch"].get("inputs") or {}
            for name in re.findall(r"-f ([\w-]+)=", flags):
                assert name in inputs, f"{doc.name}: {file} has no input {name}"
                seen.add((file, name))
    # The three a reader needs: a rollback, and accepting a regression from either stage.
    assert {
        ("deploy.yml", "model-version"),
        ("analyze.yml", "accept-regression"),
        ("train.yml", "accept-regression"),
    } <= seen


def test_the_gate_s_label_is_the_one_the_workflows_read() -> None:
    lifecycle = page("lifecycle.md")
    labels = set(re.findall(r"label `([\w-]+)`", lifecycle.text))
    workflows = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / ".github").rglob("*.py")
    ) + "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / ".github").rglob("*.yml"))
    assert "accept-regression" in labels, f"{lifecycle.name}: name the label"
    for label in labels:
        assert re.search(rf"[\"']{re.escape(label)}[\"']", workflows), f"{lifecycle.name}: {label}"


def settings_rows() -> dict[str, dict[str, str]]:
    rows = {}
    for row in API.table("Settings"):
        [variable, *options] = code(row["Variable (or option)"])
        rows[variable] = {**row, "options": " ".join(options)}
    return rows


def test_every_setting_of_the_service_is_in_the_api_table() -> None:
    rows = settings_rows()
    fields = Settings.model_fields
    assert set(rows) == {name.upper() for name in fields}, f"{API.name}: the settings table"
    for name, field in fields.items():
        shown = code(rows[name.upper()]["Default"])
        default = field.default
        if default is None:
            assert rows[name.upper()]["Default"] == "unset", f"{API.name}: {name.upper()}"
        else:
            value = str(default).lower() if isinstance(default, bool) else str(default)
            if isinstance(default, PurePath) and default.is_relative_to(ROOT):
                value = default.relative_to(ROOT).as_posix()  # the project's, from any directory
            assert shown == [value], f"{API.name}: {name.upper()} defaults to {value}"


def test_the_command_line_options_are_those_of_python_m_api() -> None:
    usage = subprocess.run(
        [sys.executable, "-m", "api", "--help"], cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", usage)) - {"--help"}
    shown = {opt for row in settings_rows().values() for opt in row["options"].split()}
    assert shown == options, f"{API.name}: the options of python -m api"


def test_the_readme_quick_start_is_what_the_newcomer_test_runs() -> None:
    # The parser of tests/container/test_newcomer.py, on the README as it is: one apt-get line,
    # then `make run` and `make test` in one block (the container test runs them as written).
    readme = readme_instructions(page("README.md").text)
    assert readme.run.split("#")[0].split() == ["make", "run"]
    assert readme.test.split("#")[0].split() == ["make", "test"]


def test_the_readme_stays_short() -> None:
    # Issue 17: a README a newcomer reads in minutes; the reference lives in docs/.
    lines = page("README.md").text.count("\n")
    assert lines <= 200, f"README.md has {lines} lines"


def test_the_example_answer_is_the_service_s_shape(client: TestClient) -> None:
    # The README's curl example shows /predict's answer: its keys are the service's, in order,
    # and the label is what the model says about that note.
    readme = page("README.md").text
    shown = re.search(r"^# (\{\"prediction\".*\})$", readme, re.MULTILINE)
    request = re.search(r"-d '(\{.*?\})'", readme)
    assert shown, "README.md: show what /predict answers"
    assert request, "README.md: show a /predict request"
    answer = client.post("/predict", json=json.loads(request[1])).json()
    assert re.findall(r"\"(\w+)\":", shown[1]) == list(answer), "README.md: /predict's keys"
    label = re.search(r"\"label\":\"([^\"]+)\"", shown[1])
    assert label, "README.md: the answer has a label"
    assert label[1] == answer["label"], "README.md: the example note's label"
    probability = re.search(r"\"probability_forged\":([\d.]+)", shown[1])
    assert probability, "README.md: the answer has a probability"
    # Training is deterministic; the tolerance leaves room for a library update's rounding.
    assert abs(float(probability[1]) - answer["probability_forged"]) < 1e-3, "README.md"
