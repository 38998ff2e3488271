"""The model spec (model/spec.py): what it accepts, where its data path points, and one clear
line naming the key for everything it refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from model.config import DEFAULT_SPEC, PROJECT_ROOT
from model.errors import SpecError
from model.spec import load_factory, load_spec
from tests.banknote import DATA_PATH
from tests.model.cli_support import assert_one_line_error, run_model

VALID = """
name = "toy"
data = "rows.csv"
header = true
features = ["a", "b"]
target = "y"
positive = 1

[classes]
0 = { name = "no", label = "No" }
1 = { name = "yes", label = "Yes" }

[estimator]
factory = "model.estimators:calibrated_rbf_svc"

[gate]
min_accuracy = 0.5
min_roc_auc = 0.5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_the_banknote_spec_is_the_default_and_points_at_the_uci_file() -> None:
    spec = load_spec(DEFAULT_SPEC)
    assert spec.name == "banknote"
    assert spec.data == PROJECT_ROOT / "data" / "data_banknote_authentication.txt"
    assert spec.data.is_file()
    assert spec.class_values == (0, 1)
    assert load_factory(spec).__name__ == "calibrated_rbf_svc"


def test_a_relative_data_path_is_the_spec_files_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    path = write(spec_dir, VALID.replace('data = "rows.csv"', 'data = "../data/rows.csv"'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_spec(path).data == tmp_path / "data" / "rows.csv"
    assert load_spec(Path("../specs/spec.toml")).data == tmp_path / "data" / "rows.csv"
    absolute = write(spec_dir, VALID.replace('data = "rows.csv"', f'data = "{DATA_PATH}"'))
    assert load_spec(absolute).data == DATA_PATH


def test_the_command_line_finds_the_spec_data_from_any_directory(
    artifact_dir: Path, tmp_path: Path
) -> None:
    # The default spec's data, read from a working directory that is not the project root.
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "model", "evaluate", "--model", str(artifact_dir)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"on {DATA_PATH} (1372 rows)" in result.stdout


THIRD_CLASS = '1 = { name = "yes", label = "Yes" }\n2 = { name = "maybe", label = "?" }'
BAD_SPECS = {
    "missing": (('name = "toy"\n', ""), "missing key 'name'"),
    "unknown": (("[gate]", "[api]\ntitel = 'x'\n[gate]"), "unknown key 'api.titel'"),
    "three-classes": (
        ('1 = { name = "yes", label = "Yes" }', THIRD_CLASS),
        "key 'classes': binary classification only, so exactly 2 classes, not 3 (0, 1, 2)",
    ),
    "positive": (
        ("positive = 1", "positive = 5"),
        "key 'positive': 5 is not a class value (0 or 1)",
    ),
    "same-name": (('"yes", label', '"no", label'), "the two classes share the name 'no'"),
    "repeated": (('["a", "b"]', '["a", "a"]'), "key 'features': listed twice: a"),
    "target": (('["a", "b"]', '["a", "y"]'), "key 'target': 'y' is also a feature"),
    "field-name": (('["a", "b"]', '["a", "b c"]'), "key 'features.1'"),
    "model-name": (('name = "toy"', 'name = "Toy-Model"'), "key 'name'"),
    "factory": (("model.estimators:calibrated_rbf_svc", "no colon"), "key 'estimator.factory'"),
    "feature-info": (
        ("[gate]", "[feature_info]\nc = { description = 'x' }\n[gate]"),
        "key 'feature_info': not features: c",
    ),
    "header": (("header = true", "header = 'yes'"), "key 'header'"),
    "toml": (("[gate]", "[gate\n"), "not valid TOML"),
}


@pytest.mark.parametrize(("change", "message"), BAD_SPECS.values(), ids=BAD_SPECS.keys())
def test_a_bad_spec_is_one_line_naming_the_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new))
    with pytest.raises(SpecError, match="^" + str(path).replace(".", r"\.")) as raised:
        load_spec(path)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_command_line_refuses_a_bad_spec_in_one_line(tmp_path: Path) -> None:
    three = VALID.replace('1 = { name = "yes", label = "Yes" }', THIRD_CLASS)
    result = run_model("train", "--spec", str(write(tmp_path, three)), "--out", str(tmp_path / "m"))
    assert_one_line_error(result, 1, "binary classification only")
    missing = run_model("train", "--spec", str(tmp_path / "absent.toml"))
    assert_one_line_error(missing, 1, "absent.toml: spec file not found")


def test_an_unimportable_factory_is_one_line_before_any_data_is_read(tmp_path: Path) -> None:
    spec = write(tmp_path, VALID.replace("model.estimators:", "no_such_module:"))
    result = run_model("train", "--spec", str(spec), "--out", str(tmp_path / "m"))
    assert_one_line_error(result, 1, "cannot import 'no_such_module'")
    assert "PYTHONPATH" in result.stderr
    absent = write(tmp_path, VALID.replace(":calibrated_rbf_svc", ":nothing_here"))
    result = run_model("train", "--spec", str(absent), "--out", str(tmp_path / "m"))
    assert_one_line_error(result, 1, "model.estimators has no nothing_here()")
