"""Load and strictly validate the banknote data file.

The training file is UCI's format exactly: comma-separated, no header row, five columns
(the four features, then the class). A header row is refused with a message that says so,
rather than silently accepted, so that a file in some other layout cannot slip through.
Every problem is reported as one `DataError` naming the file, the line and the problem.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from contract import CLASS_NAMES, FEATURES, sha256_file
from model.config import TARGET
from model.errors import DataError

COLUMNS = (*FEATURES, TARGET)


@dataclass(frozen=True)
class Dataset:
    """A validated data file: features in `FEATURES` order, labels 0/1, and its provenance."""

    path: Path
    sha256: str
    features: npt.NDArray[np.float64]
    labels: npt.NDArray[np.int64]

    @property
    def rows(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        """Rows per class name, e.g. {"genuine": 762, "forged": 610}."""
        return {name: int((self.labels == value).sum()) for value, name in CLASS_NAMES.items()}


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


def load_dataset(path: Path, min_rows_per_class: int = 1) -> Dataset:
    """Read and validate a training data file; raise DataError on the first problem."""
    features: list[list[float]] = []
    labels: list[int] = []
    blank_line: int | None = None
    for line, fields in read_csv_rows(path):
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            blank_line = blank_line or line
            continue
        if blank_line is not None:
            raise DataError(f"{path}:{blank_line}: empty line inside the data")
        if line == 1 and _looks_like_header(fields):
            raise DataError(
                f"{path}:1: looks like a header row ({','.join(fields)!r}); the data file has "
                f"no header: five comma-separated columns {', '.join(COLUMNS)}"
            )
        if len(fields) != len(COLUMNS):
            raise DataError(
                f"{path}:{line}: expected {len(COLUMNS)} columns ({', '.join(COLUMNS)}), "
                f"found {len(fields)}"
            )
        row: list[float] = []
        for name, text in zip(FEATURES, fields, strict=False):
            value = parse_finite(text)
            if value is None:
                raise DataError(f"{path}:{line}: column {name!r} {describe_bad_number(text)}")
            row.append(value)
        label_text = fields[-1].strip()
        if label_text not in ("0", "1"):
            raise DataError(f"{path}:{line}: column 'class' must be 0 or 1, found {fields[-1]!r}")
        features.append(row)
        labels.append(int(label_text))

    if not labels:
        raise DataError(f"{path}: file is empty (no data rows)")
    dataset = Dataset(
        path=path,
        sha256=sha256_file(path),
        features=np.asarray(features, dtype=np.float64),
        labels=np.asarray(labels, dtype=np.int64),
    )
    for name, count in dataset.class_counts().items():
        if count < min_rows_per_class:
            raise DataError(
                f"{path}: {count} rows of class {name!r}; at least {min_rows_per_class} needed"
            )
    return dataset
