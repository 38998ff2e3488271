"""The artifact contract on its own: write, read back, and refuse what breaks it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import contract
from contract import (
    FORMAT_VERSION,
    METADATA_FILE,
    MODEL_CARD_FILE,
    ONNX_FILE,
    PIPELINE_FILE,
    QUANTILE_KEYS,
    QUANTILE_LEVELS,
    ArtifactError,
    ArtifactMetadata,
    ArtifactMissingError,
    ArtifactUnreadableError,
    ModelContract,
    UnsupportedFormatError,
)
from tests.contract.legacy import as_format_1, as_format_2

REPO = Path(__file__).resolve().parents[2]
BLOBS = {ONNX_FILE: b"onnx graph bytes", PIPELINE_FILE: b"pickle bytes"}
# A made-up model: the contract knows no model's features or classes.
FEATURES = ("alpha", "beta", "gamma")


def model_contract(**changes: Any) -> dict[str, Any]:
    """A valid model contract as metadata.json holds it; `changes` override its fields."""
    fields: dict[str, Any] = {
        "name": "toy",
        "features": [
            {"name": name, "description": f"The {name} reading.", "unit": "mm"} for name in FEATURES
        ],
        "classes": [
            {"value": 0, "name": "ok", "label": "In order"},
            {"value": 1, "name": "faulty", "label": "Faulty"},
        ],
        "positive_class": 1,
        "examples": [
            {
                "class_value": 0,
                "line": 2,
                "values": dict.fromkeys(FEATURES, 0.5),
                "probability": 0.1,
            },
            {
                "class_value": 1,
                "line": 9,
                "values": dict.fromkeys(FEATURES, -1.0),
                "probability": 0.9,
            },
        ],
        "api": {
            "title": "Toy API",
            "description": "Tells faulty parts from good ones.",
            "predict_summary": "Predict",
            "predict_description": "Is this part faulty?",
            "batch_summary": "Predict many parts",
            "row": "part",
            "rows": "parts",
            "row_description": "Three readings of a part.",
            "label_description": "The label.",
            "probability_description": "P(faulty).",
        },
    }
    return fields | changes


def stats(**changes: Any) -> dict[str, Any]:
    """One feature's valid statistics: min -5, quantiles -4..4, max 5."""
    values = [-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0]
    return {"min": -5.0, "max": 5.0, "quantiles": dict(zip(QUANTILE_KEYS, values, strict=True))} | (
        changes
    )


def make_metadata(**changes: Any) -> ArtifactMetadata:
    """A valid current-format metadata for BLOBS; `changes` override top-level fields."""
    fields: dict[str, Any] = {
        "model_version": "20260101T000000Z-abcdef1-123456",
        "created_at": "2026-01-01T00:00:00Z",
        "git_commit": "abcdef1234567890",
        "contract": model_contract(),
        "data": {
            "file": "data.txt",
            "sha256": "0" * 64,
            "rows": 10,
            "class_counts": {"ok": 5, "faulty": 5},
            "duplicates_removed": 0,
            "unique_rows": 10,
            "train_rows": 8,
            "test_rows": 2,
            "split": "stratified",
        },
        "feature_stats": {
            "rows": 8,
            "source": "training split",
            "features": {name: stats() for name in FEATURES},
        },
        "hyperparameters": {"C": 1.0, "gamma_grid": ["scale", 0.1], "seed": 42},
        "quality_gate": {"min_accuracy": 0.99, "min_roc_auc": 0.995},
        "metrics": {"holdout": {"accuracy": 1.0}, "cv": {"folds": 10}},
        "onnx": {
            "input": "features",
            "label_output": "label",
            "probability_output": "probabilities",
            "opset": {"": 17},
            "parity": {
                "rows": 10,
                "rule": "within the float32 bound",
                "max_probability_gap": 1e-7,
                "max_tolerance": 1e-5,
                "median_tolerance": 1e-6,
                "max_gap_to_tolerance": 0.2,
                "undecidable_rows": 0,
            },
        },
        "versions": {"python": "3.11"},
        "files": {name: contract.sha256_bytes(data) for name, data in BLOBS.items()},
    }
    return ArtifactMetadata.model_validate({**fields, **changes})


@pytest.fixture
def written(tmp_path: Path) -> Path:
    """A complete artifact directory written through the contract."""
    out = tmp_path / "model"
    contract.write_artifact(out, make_metadata(), BLOBS, "# card\n")
    return out


def edit_metadata(directory: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = directory / METADATA_FILE
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))


def test_round_trip(written: Path) -> None:
    assert sorted(p.name for p in written.iterdir()) == sorted(
        [METADATA_FILE, MODEL_CARD_FILE, ONNX_FILE, PIPELINE_FILE]
    )
    metadata = contract.read_metadata(written)
    assert metadata == make_metadata()
    assert metadata.format_version == FORMAT_VERSION
    assert metadata.contract.feature_names == FEATURES
    assert [c.name for c in metadata.contract.classes] == ["ok", "faulty"]
    assert metadata.contract.signature().probability_field == "probability_faulty"
    for name, data in BLOBS.items():
        assert contract.read_verified(written, metadata.files, name) == data
    header = contract.read_header(written)
    assert (header.format_version, header.model_version) == (FORMAT_VERSION, metadata.model_version)
    assert header.model_name == "toy"
    assert (written / MODEL_CARD_FILE).read_text() == "# card\n"
    assert written.stat().st_mode & 0o777 == 0o755  # the image's non-root user reads it


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"classes": [{"value": v, "name": f"c{v}", "label": "x"} for v in (0, 1, 2)]},
            "binary classification only: exactly 2 classes, not 3",
        ),
        ({"positive_class": 7}, "positive class 7 is not one of the class values"),
        (
            {
                "classes": [
                    {"value": 1, "name": "a", "label": "x"},
                    {"value": 0, "name": "b", "label": "y"},
                ]
            },
            "classes must be in ascending value order",
        ),
        (
            {
                "classes": [
                    {"value": 0, "name": "a", "label": "x"},
                    {"value": 1, "name": "a", "label": "y"},
                ]
            },
            "the two classes share the name 'a'",
        ),
        ({"features": []}, "at least one feature"),
        (
            {
                "features": [
                    {"name": "alpha", "description": "d"},
                    {"name": "alpha", "description": "d"},
                ]
            },
            "feature names must be unique; repeated: alpha",
        ),
        ({"name": "Not-A-Metric-Prefix"}, "String should match pattern"),
        (
            {
                "classes": [
                    {"value": 0, "name": "has space", "label": "x"},
                    {"value": 1, "name": "b", "label": "y"},
                ]
            },
            "pattern",
        ),
    ],
    ids=[
        "three-classes",
        "positive",
        "order",
        "same-name",
        "no-features",
        "repeated",
        "name",
        "class-name",
    ],
)
def test_a_contract_that_breaks_a_rule_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelContract.model_validate(model_contract(**changes))


def test_examples_are_one_row_per_class_with_every_feature() -> None:
    good = model_contract()
    swapped = model_contract(examples=list(reversed(good["examples"])))
    with pytest.raises(ValueError, match=r"one row per class, in class order \[0, 1\]"):
        ModelContract.model_validate(swapped)
    missing = model_contract(examples=[{**e, "values": {"alpha": 1.0}} for e in good["examples"]])
    with pytest.raises(ValueError, match=r"must give the features \['alpha', 'beta', 'gamma'\]"):
        ModelContract.model_validate(missing)


def test_the_signature_says_what_differs() -> None:
    base = ModelContract.model_validate(model_contract()).signature()
    other = base.model_copy(update={"name": "other", "features": ("alpha",)})
    assert base.differences(base) == {}
    assert base.differences(other) == {
        "name": ("toy", "other"),
        "features": ("alpha, beta, gamma", "alpha"),
    }


def test_the_declared_format_is_the_one_written() -> None:
    assert ArtifactMetadata.model_fields["format_version"].default == FORMAT_VERSION


@pytest.mark.parametrize("name", [ONNX_FILE, PIPELINE_FILE])
def test_a_tampered_file_is_refused(written: Path, name: str) -> None:
    path = written / name
    path.write_bytes(path.read_bytes() + b"!")
    metadata = contract.read_metadata(written)
    with pytest.raises(ArtifactError, match=f"{name}: sha256 does not match metadata.json"):
        contract.read_verified(written, metadata.files, name)


def test_a_file_without_a_recorded_hash_is_refused(written: Path) -> None:
    metadata = contract.read_metadata(written)
    with pytest.raises(ArtifactError, match=r"no sha256 recorded for other\.bin"):
        contract.read_verified(written, metadata.files, "other.bin")


def test_metadata_must_record_the_onnx_hash(written: Path) -> None:
    edit_metadata(written, lambda m: m["files"].pop(ONNX_FILE))
    with pytest.raises(ArtifactError, match=r"no usable 'files' \(no sha256 recorded for model"):
        contract.read_metadata(written)


@pytest.mark.parametrize("version", [0, FORMAT_VERSION + 1, 99])
def test_another_format_version_is_refused_on_that_alone(written: Path, version: int) -> None:
    # Even with every other field gone: a format this code does not know is not judged further.
    (written / METADATA_FILE).write_text(json.dumps({"format_version": version}))
    with pytest.raises(UnsupportedFormatError, match=f"format_version {version}, this code reads"):
        contract.read_metadata(written)
    with pytest.raises(UnsupportedFormatError) as caught:
        contract.read_header(written)
    assert caught.value.format_version == version


def test_an_older_format_says_to_retrain(written: Path) -> None:
    edit_metadata(written, lambda m: m.__setitem__("format_version", 0))
    with pytest.raises(UnsupportedFormatError, match=r"retrain it: make train"):
        contract.read_metadata(written)


@pytest.mark.parametrize("version", [None, "1", True, 1.0])
def test_a_format_version_that_is_not_an_integer_is_refused(written: Path, version: Any) -> None:
    edit_metadata(written, lambda m: m.__setitem__("format_version", version))
    with pytest.raises(ArtifactError, match="no usable 'format_version'"):
        contract.read_metadata(written)


def test_feature_stats_must_be_the_contracts_features(written: Path) -> None:
    edit_metadata(
        written,
        lambda m: m["feature_stats"].__setitem__(
            "features", {name: stats() for name in ("beta", "alpha", "gamma")}
        ),
    )
    with pytest.raises(ArtifactError, match=r"feature_stats must cover exactly \['alpha', 'beta'"):
        contract.read_metadata(written)


def test_every_schema_problem_is_named_in_one_message(written: Path) -> None:
    def break_two(metadata: dict[str, Any]) -> None:
        metadata["model_version"] = "has spaces"
        del metadata["created_at"]

    edit_metadata(written, break_two)
    with pytest.raises(ArtifactError) as caught:
        contract.read_metadata(written)
    message = str(caught.value)
    assert message.startswith(f"{written / METADATA_FILE}: ")
    assert "no usable 'model_version'" in message
    assert "no usable 'created_at' (Field required)" in message
    assert "\n" not in message


def test_unknown_fields_are_refused_in_the_full_schema_only(written: Path) -> None:
    edit_metadata(written, lambda m: m.__setitem__("surprise", 1))
    with pytest.raises(ArtifactError, match="no usable 'surprise'"):
        contract.read_metadata(written)
    assert contract.read_header(written).format_version == FORMAT_VERSION


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ArtifactMissingError, match="does not exist: no model artifact here"):
        contract.read_metadata(tmp_path / "absent")
    (tmp_path / "file").write_text("")
    with pytest.raises(ArtifactMissingError, match="is not a directory: no model artifact here"):
        contract.read_header(tmp_path / "file")


def test_missing_metadata(written: Path) -> None:
    (written / METADATA_FILE).unlink()
    with pytest.raises(ArtifactMissingError, match=r"incomplete artifact, metadata\.json is mi"):
        contract.read_header(written)


@pytest.mark.parametrize("name", [ONNX_FILE, PIPELINE_FILE])
def test_missing_model_file(written: Path, name: str) -> None:
    (written / name).unlink()
    metadata = contract.read_metadata(written)
    with pytest.raises(ArtifactError, match=f"incomplete artifact, {name} is missing") as caught:
        contract.read_verified(written, metadata.files, name)
    assert not isinstance(caught.value, ArtifactMissingError)  # the artifact exists, half of it


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "not valid JSON"), ("[1, 2]", "not a JSON object"), ("\udcff", "not valid")],
)
def test_unreadable_metadata(written: Path, text: str, message: str) -> None:
    (written / METADATA_FILE).write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ArtifactUnreadableError, match=message):
        contract.read_metadata(written)


def test_write_refuses_files_that_do_not_match_the_metadata(tmp_path: Path) -> None:
    out = tmp_path / "model"
    with pytest.raises(ValueError, match=r"do not match metadata\.files"):
        contract.write_artifact(out, make_metadata(), {**BLOBS, ONNX_FILE: b"other"}, "")
    with pytest.raises(ValueError, match=r"do not match metadata\.files"):
        contract.write_artifact(out, make_metadata(), {ONNX_FILE: BLOBS[ONNX_FILE]}, "")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no staging directory left behind


def test_rewriting_replaces_the_whole_directory(written: Path) -> None:
    (written / "stale").write_text("left over")
    contract.write_artifact(written, make_metadata(model_version="second"), BLOBS, "")
    assert not (written / "stale").exists()
    assert contract.read_header(written).model_version == "second"
    assert [p.name for p in written.parent.iterdir()] == ["model"]


def test_the_trained_artifact_satisfies_the_contract(artifact_dir: Path) -> None:
    metadata = contract.read_metadata(artifact_dir)
    onnx = contract.read_verified(artifact_dir, metadata.files, ONNX_FILE)
    assert onnx.startswith(b"\x08")  # a serialized ModelProto starts with its ir_version field
    raw = json.loads((artifact_dir / METADATA_FILE).read_text())
    assert json.loads(metadata.model_dump_json()) == raw  # nothing is lost or added on reading


def test_the_contract_imports_nothing_heavy() -> None:
    # A fresh interpreter: the serving image and the Pulumi program import this package.
    probe = "import contract, json, sys; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = {name.split(".")[0] for name in json.loads(result.stdout)}
    heavy = {"numpy", "sklearn", "scipy", "joblib", "onnx", "onnxruntime", "model", "api", "infra"}
    assert not loaded & heavy, sorted(loaded & heavy)
    assert "pydantic" in loaded


def test_quantile_levels_make_histogram_buckets() -> None:
    assert list(QUANTILE_LEVELS) == sorted(set(QUANTILE_LEVELS))
    assert all(0 < level < 1 for level in QUANTILE_LEVELS)
    assert QUANTILE_KEYS == ("0.01", "0.05", "0.1", "0.25", "0.5", "0.75", "0.9", "0.95", "0.99")


def test_bucket_bounds_are_strictly_increasing(written: Path) -> None:
    stats_of = contract.read_metadata(written).feature_stats.features
    assert stats_of["alpha"].bucket_bounds() == (-4, -3, -2, -1, 0, 1, 2, 3, 4)
    # A constant feature (a zeroed column) has nine equal quantiles: one bucket bound, because
    # Prometheus refuses repeated bucket bounds.
    constant = contract.FeatureStats(min=0, max=0, quantiles=dict.fromkeys(QUANTILE_KEYS, 0.0))
    assert constant.bucket_bounds() == (0.0,)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"min": 4.5}, "min <= quantiles"),
        ({"max": 0.0}, "min <= quantiles"),
        ({"quantiles": dict(zip(QUANTILE_KEYS, range(9, 0, -1), strict=True))}, "min <= quanti"),
        ({"quantiles": {"0.5": 0.0}}, "quantiles must be given at"),
        ({"max": float("inf")}, "must be finite"),
    ],
)
def test_inconsistent_feature_stats_are_refused(
    written: Path, change: dict[str, Any], message: str
) -> None:
    edit_metadata(written, lambda m: m["feature_stats"]["features"]["gamma"].update(change))
    with pytest.raises(ArtifactError, match=message):
        contract.read_metadata(written)


def test_feature_stats_must_cover_every_feature_in_order(written: Path) -> None:
    def drop_one(metadata: dict[str, Any]) -> None:
        del metadata["feature_stats"]["features"]["beta"]

    edit_metadata(written, drop_one)
    with pytest.raises(ArtifactError, match="feature_stats must cover exactly"):
        contract.read_metadata(written)


@pytest.mark.parametrize(("downgrade", "version"), [(as_format_1, 1), (as_format_2, 2)])
def test_an_older_format_is_comparable_but_not_servable(
    written: Path, downgrade: Callable[[dict[str, Any]], dict[str, Any]], version: int
) -> None:
    def rewrite(metadata: dict[str, Any]) -> None:
        old = downgrade(metadata)
        metadata.clear()
        metadata.update(old)

    edit_metadata(written, rewrite)
    raw = json.loads((written / METADATA_FILE).read_text())
    assert raw["format_version"] == version
    assert "contract" not in raw
    assert ("feature_stats" in raw) == (version == 2)
    core = contract.read_core(written)
    assert (core.format_version, core.model_version) == (version, make_metadata().model_version)
    # What formats 1 and 2 could not record is the banknote model's, the only one they held.
    assert core.contract.name == contract.LEGACY_MODEL_NAME == "banknote"
    assert core.contract.positive_class == contract.LEGACY_POSITIVE_CLASS == 1
    assert core.contract.features == FEATURES
    assert [c.name for c in core.contract.classes] == ["ok", "faulty"]
    assert core.onnx.input == "features"
    assert core.hyperparameters["seed"] == 42
    assert contract.read_verified(written, core.files, ONNX_FILE) == BLOBS[ONNX_FILE]
    with pytest.raises(UnsupportedFormatError, match=rf"format_version {version}, .*\(retrain it"):
        contract.read_metadata(written)
    with pytest.raises(UnsupportedFormatError):
        contract.read_header(written)


def test_the_current_format_is_comparable_with_its_signature(written: Path) -> None:
    core = contract.read_core(written)
    assert core.contract == ModelContract.model_validate(model_contract()).signature()


def test_core_reading_still_checks_the_signature(written: Path) -> None:
    edit_metadata(written, lambda m: m["contract"].__setitem__("positive_class", 5))
    with pytest.raises(ArtifactError, match="positive class 5 is not one of the class values"):
        contract.read_core(written)
    edit_metadata(written, lambda m: m.__setitem__("format_version", 99))
    with pytest.raises(UnsupportedFormatError, match="this code reads format_version 1, 2 or 3"):
        contract.read_core(written)


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "contract", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_command_line_check(written: Path) -> None:
    # What `make artifact` runs to decide whether to (re)train.
    ok = _check(str(written))
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, make_metadata().model_version + "\n", "")
    edit_metadata(written, lambda m: m.__setitem__("format_version", 1))
    old = _check(str(written))
    assert old.returncode == 1
    assert old.stdout == ""
    assert old.stderr.startswith("error: ")
    assert old.stderr.count("\n") == 1
    assert f"format_version 1, this code reads format_version {FORMAT_VERSION}" in old.stderr
    assert _check().returncode == 2


def test_the_command_line_check_verifies_the_onnx_file(written: Path) -> None:
    (written / ONNX_FILE).write_bytes(b"changed")
    result = _check(str(written))
    assert result.returncode == 1
    assert "model.onnx: sha256 does not match" in result.stderr


def test_the_command_line_has_help_and_one_line_usage_errors() -> None:
    shown = _check("--help")
    assert (shown.returncode, shown.stderr) == (0, "")
    assert shown.stdout.startswith("usage: python -m contract [-h] ARTIFACT_DIR")
    for args in ([], ["one", "two"], ["--nope"]):
        wrong = _check(*args)
        assert wrong.returncode == 2
        assert wrong.stderr.count("\n") == 1, wrong.stderr
        assert wrong.stderr.endswith("(see: python -m contract --help)\n")
