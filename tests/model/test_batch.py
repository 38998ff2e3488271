from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from model.artifact import load_artifact
from model.batch import score_csv
from model.errors import DataError


def write_notes(path: Path, features: np.ndarray) -> None:
    with path.open("w") as handle:
        handle.write("variance,skewness,curtosis,entropy\n")
        np.savetxt(handle, features, delimiter=",", fmt="%.6f")


def test_rejects_bad_rows_and_keeps_every_good_one(artifact_dir: Path, tmp_path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "entropy,variance,skewness,curtosis\n"  # any column order
        "-0.44699,3.6216,8.6661,-2.8073\n"
        "1,2,3\n"
        "-1.9948,-1.3971,3.3191,-1.3927\n"
        "nan,1,2,3\n"
        "\n"
        "1,x,2,3\n"
        "0.1,0.2,0.3,0.4\n"
    )
    out = tmp_path / "out.csv"
    report = score_csv(artifact_dir, source, out, chunk_rows=2)
    assert (report.scored, report.rejected) == (3, 3)
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["prediction"] for r in rows[:2]] == ["genuine", "forged"]
    assert [r["variance"] for r in rows] == ["3.6216", "-1.3971", "0.2"]
    rejects = list(csv.DictReader(report.rejects_path.read_text().splitlines()))
    assert [(r["line"], r["error"]) for r in rejects] == [
        ("3", "expected 4 fields, found 3"),
        ("5", "column 'entropy' is not finite: 'nan'"),
        ("7", "column 'variance' is not a number: 'x'"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        ("a,b,c,d\n1,2,3,4\n", "header must name the columns"),
        ("variance,skewness,curtosis\n1,2,3\n", "missing entropy"),
    ],
)
def test_unusable_input_files(artifact_dir: Path, tmp_path, text, message) -> None:
    source = tmp_path / "in.csv"
    source.write_text(text)
    with pytest.raises(DataError, match=message):
        score_csv(artifact_dir, source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.slow
def test_a_million_rows_match_the_pipeline(artifact_dir: Path, tmp_path) -> None:
    """Streams 1,000,000 rows in chunks; peak memory is measured by `make bench`."""
    rng = np.random.default_rng(7)
    features = rng.normal([0.4, 1.9, 1.4, -1.2], [2.8, 5.9, 4.3, 2.1], size=(1_000_000, 4))
    source, out = tmp_path / "million.csv", tmp_path / "scored.csv"
    write_notes(source, features)
    report = score_csv(artifact_dir, source, out)
    assert (report.scored, report.rejected) == (1_000_000, 0)

    expected = load_artifact(artifact_dir).pipeline.predict_proba(
        np.loadtxt(source, delimiter=",", skiprows=1)
    )[:, 1]
    got = np.loadtxt(out, delimiter=",", skiprows=1, usecols=6)
    np.testing.assert_array_equal(got, expected)
    predictions = np.loadtxt(out, delimiter=",", skiprows=1, usecols=4, dtype=str)
    np.testing.assert_array_equal(predictions == "forged", expected > 0.5)
