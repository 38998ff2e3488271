"""Load and strictly validate a model's data file, in the layout its spec declares.

A CSV file, comma-separated. With `header = false` (UCI's banknote file) every row holds exactly
the spec's features, in order, then the target; a first row of column names is refused with a
message that says so, so that a file in some other layout cannot slip through. With
`header = true` the first row names the columns: the features and the target are found by name,
in any order, and other columns are ignored. Feature values must be finite numbers and the
target one of the spec's class values. Every problem is reported as one `DataError` naming the
file, the line and the problem.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from contract import sha256_file
from model.errors import DataError
from model.spec import ModelSpec

_INTEGER = re.compile(r"^[+-]?[0-9]+$")


@dataclass(frozen=True)
class Dataset:
    """A validated data file: features in the spec's order, class values, and provenance."""

    path: Path
    sha256: str
    features: npt.NDArray[np.float64]
    labels: npt.NDArray[np.int64]
    lines: npt.NDArray[np.int64]  # each row's line in the file (1-based)
    class_names: dict[int, str]

    @property
    def rows(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        """Rows per class name, in class-value order."""
        return {name: int((self.labels == value).sum()) for value, name in self.class_names.items()}


def parse_finite(text: str) -> float | None:
    """The float in `text`, or None when it is not a finite number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def describe_bad_number(text: str) -> str:
    """Why `text` is not accepted as a feature value (for error messages)."""
    stripped = text.strip()
    if not stripped:
        return "is empty"
    try:
        float(stripped)
    except ValueError:
        return f"is not a number: {text!r}"
    return f"is not finite: {text!r}"


def read_csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields), with line numbers that survive quoted newlines."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            line = 1
            for fields in reader:
                yield line, fields
                line = reader.line_num + 1
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not a UTF-8 text file ({error.reason})") from None
    except csv.Error as error:
        raise DataError(f"{path}: not a valid CSV file ({error})") from None


def _looks_like_header(fields: list[str]) -> bool:
    return all(parse_finite(field) is None for field in fields) and any(
        field.strip() for field in fields
    )


def _is_blank(fields: list[str]) -> bool:
    return not fields or (len(fields) == 1 and not fields[0].strip())


@dataclass(frozen=True)
class _Layout:
    """Where the features and the target are in each row, and how wide a row is."""

    width: int
    feature_positions: tuple[int, ...]
    target_position: int
    columns: tuple[str, ...]  # for messages


def _headerless(spec: ModelSpec, path: Path, line: int, fields: list[str]) -> _Layout:
    columns = (*spec.features, spec.target)
    if line == 1 and _looks_like_header(fields):
        raise DataError(
            f"{path}:1: looks like a header row ({','.join(fields)!r}); the spec says the file "
            f"has no header (header = false): {len(columns)} comma-separated columns "
            f"{', '.join(columns)}"
        )
    return _Layout(len(columns), tuple(range(len(spec.features))), len(spec.features), columns)


def _from_header(spec: ModelSpec, path: Path, line: int, fields: list[str]) -> _Layout:
    names = [field.strip() for field in fields]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"{path}:{line}: the header names {', '.join(repeated)} twice")
    missing = [name for name in (*spec.features, spec.target) if name not in names]
    if missing:
        raise DataError(
            f"{path}:{line}: the header has no column {', '.join(missing)} "
            f"(found {','.join(fields)!r})"
        )
    return _Layout(
        len(names),
        tuple(names.index(feature) for feature in spec.features),
        names.index(spec.target),
        tuple(names),
    )


def load_dataset(spec: ModelSpec, path: Path | None = None, min_rows_per_class: int = 1) -> Dataset:
    """Read and validate `path` (default: the spec's data file); DataError on the first problem."""
    path = path or spec.data
    values = spec.class_values
    allowed = " or ".join(str(v) for v in values)
    features: list[list[float]] = []
    labels: list[int] = []
    lines: list[int] = []
    layout: _Layout | None = None
    blank_line: int | None = None
    for line, fields in read_csv_rows(path):
        if _is_blank(fields):
            blank_line = blank_line or line
            continue
        if blank_line is not None:
            raise DataError(f"{path}:{blank_line}: empty line inside the data")
        if layout is None:
            read_layout = _from_header if spec.header else _headerless
            layout = read_layout(spec, path, line, fields)
            if spec.header:
                continue
        if len(fields) != layout.width:
            raise DataError(
                f"{path}:{line}: expected {layout.width} columns ({', '.join(layout.columns)}), "
                f"found {len(fields)}"
            )
        row: list[float] = []
        for name, position in zip(spec.features, layout.feature_positions, strict=True):
            value = parse_finite(fields[position])
            if value is None:
                raise DataError(
                    f"{path}:{line}: column {name!r} {describe_bad_number(fields[position])}"
                )
            row.append(value)
        target = fields[layout.target_position].strip()
        if not _INTEGER.match(target) or int(target) not in values:
            raise DataError(
                f"{path}:{line}: column {spec.target!r} must be {allowed}, "
                f"found {fields[layout.target_position]!r}"
            )
        features.append(row)
        labels.append(int(target))
        lines.append(line)

    if not labels:
        raise DataError(f"{path}: file is empty (no data rows)")
    dataset = Dataset(
        path=path,
        sha256=sha256_file(path),
        features=np.asarray(features, dtype=np.float64),
        labels=np.asarray(labels, dtype=np.int64),
        lines=np.asarray(lines, dtype=np.int64),
        class_names={value: spec.class_name(value) for value in values},
    )
    for name, count in dataset.class_counts().items():
        if count < min_rows_per_class:
            raise DataError(
                f"{path}: {count} rows of class {name!r}; at least {min_rows_per_class} needed"
            )
    return dataset
