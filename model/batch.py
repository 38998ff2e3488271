"""Offline batch scoring of a CSV file, streamed in chunks so memory stays bounded.

Input: a CSV with a header row naming at least the model's features (any order, any case; other
columns are carried through); the artifact's contract names them. Output: every input column
plus `prediction`, `label` and `probability_<positive class>` (`probability_forged` for the
banknote model).
A row that cannot be scored (wrong field count, a value that is not a finite number) does not
stop the run: it goes to a reject file with its line number and the reason, and every good row
is still scored. The output is written to a temporary file and renamed at the end, so a crash
never leaves a half-written output behind.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from tqdm import tqdm

from contract import ModelContract
from model.artifact import load_artifact
from model.config import BATCH_CHUNK_ROWS
from model.data import describe_bad_number, parse_finite, read_csv_rows
from model.errors import ArtifactError, DataError


def output_columns(model: ModelContract) -> tuple[str, str, str]:
    """The columns scoring appends to each row."""
    return ("prediction", "label", model.signature().probability_field)


@dataclass(frozen=True)
class BatchReport:
    """What a scoring run did."""

    scored: int
    rejected: int
    rejects_path: Path | None


def default_rejects_path(output: Path) -> Path:
    return output.with_name(output.stem + ".rejects.csv")


def _feature_positions(header: list[str], features: Sequence[str], path: Path) -> list[int]:
    names = [name.strip().lower() for name in header]
    missing = [feature for feature in features if feature.lower() not in names]
    if missing:
        raise DataError(
            f"{path}:1: header must name the columns {', '.join(features)}; "
            f"missing {', '.join(missing)} (found {','.join(header)!r})"
        )
    return [names.index(feature.lower()) for feature in features]


def _parse_row(
    fields: list[str], width: int, features: Sequence[str], positions: list[int]
) -> list[float] | str:
    """The feature values, or the reason the row is rejected."""
    if len(fields) != width:
        return f"expected {width} fields, found {len(fields)}"
    values = []
    for feature, position in zip(features, positions, strict=True):
        value = parse_finite(fields[position])
        if value is None:
            return f"column {feature!r} {describe_bad_number(fields[position])}"
        values.append(value)
    return values


class _RejectWriter:
    """Writes rejected rows to a CSV file, created only when the first reject arrives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._handle: TextIO | None = None
        self._writer: Any = None  # csv.writer, whose type is private

    def write(self, line: int, reason: str, fields: list[str]) -> None:
        if self._writer is None:
            self._handle = self.path.open("w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["line", "error", "row"])
        self._writer.writerow([line, reason, ",".join(fields)])
        self.count += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def _chunks(
    rows: Iterator[tuple[int, list[str]]],
    width: int,
    features: Sequence[str],
    positions: list[int],
    rejects: _RejectWriter,
    chunk_rows: int,
) -> Iterator[tuple[list[list[str]], list[list[float]]]]:
    """Group valid rows into chunks of raw fields and parsed values; send the rest to rejects."""
    kept: list[list[str]] = []
    values: list[list[float]] = []
    for line, fields in rows:
        if not fields:  # blank lines carry no data and are not rejects
            continue
        parsed = _parse_row(fields, width, features, positions)
        if isinstance(parsed, str):
            rejects.write(line, parsed, fields)
            continue
        kept.append(fields)
        values.append(parsed)
        if len(kept) >= chunk_rows:
            yield kept, values
            kept, values = [], []
    if kept:
        yield kept, values


def score_csv(
    model_dir: Path,
    input_path: Path,
    output_path: Path,
    rejects_path: Path | None = None,
    chunk_rows: int = BATCH_CHUNK_ROWS,
) -> BatchReport:
    """Score `input_path` with the artifact in `model_dir`; write `output_path`."""
    artifact = load_artifact(model_dir)
    pipeline, model = artifact.pipeline, artifact.metadata.contract
    signature = model.signature()
    if list(pipeline.classes_) != [c.value for c in model.classes]:
        raise ArtifactError(f"{model_dir}: the model's classes are not its contract's")
    features = model.feature_names
    names = [c.name for c in model.classes]
    labels = [c.label for c in model.classes]
    rejects = _RejectWriter(rejects_path or default_rejects_path(output_path))
    rejects.path.unlink(missing_ok=True)  # a stale reject file would describe another run

    rows = read_csv_rows(input_path)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{input_path}: file is empty (expected a header row)")
    header = first[1]
    positions = _feature_positions(header, features, input_path)

    output_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{output_path.name}-", dir=output_path.parent, text=True
    )
    scored = 0
    try:
        with (
            os.fdopen(handle, "w", newline="", encoding="utf-8") as sink,
            tqdm(unit=" rows", disable=not sys.stdout.isatty(), file=sys.stdout) as progress,
        ):
            writer = csv.writer(sink)
            writer.writerow([*header, *output_columns(model)])
            chunks = _chunks(rows, len(header), features, positions, rejects, chunk_rows)
            for kept, values in chunks:
                probabilities = pipeline.predict_proba(np.asarray(values, dtype=np.float64))
                # The label is the argmax of the probabilities, as the service answers
                # (api/predictor.py): one model call, not two.
                predicted = probabilities.argmax(axis=1)
                positive = probabilities[:, signature.positive_index]
                for fields, index, probability in zip(kept, predicted, positive, strict=True):
                    writer.writerow([*fields, names[index], labels[index], probability])
                scored += len(kept)
                progress.update(len(kept))
        os.replace(temporary, output_path)
    finally:
        rejects.close()
        Path(temporary).unlink(missing_ok=True)
    return BatchReport(scored, rejects.count, rejects.path if rejects.count else None)
