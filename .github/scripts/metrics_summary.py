"""Markdown summary of a trained model's metrics, optionally next to a baseline model's.

    python .github/scripts/metrics_summary.py ARTIFACT_DIR [--baseline BASELINE_DIR]

The train stage appends the output to the job summary; on a pull request the baseline is the
latest model trained on main, so reviewers see what the change does to the metrics. Reads only
metadata.json (plain JSON, nothing is unpickled or run) and uses only the standard library.
A missing or unreadable baseline is reported in the summary, not treated as an error; a missing
or unreadable artifact is an error (one line on stderr, exit code 1).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

Metrics = dict[str, float]


class SummaryError(Exception):
    """The artifact's metadata cannot be read or lacks what the summary needs."""


def load_metadata(artifact_dir: Path) -> dict[str, Any]:
    """Parse ARTIFACT_DIR/metadata.json, checking the fields the summary uses."""
    path = artifact_dir / "metadata.json"
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SummaryError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SummaryError(f"{path}: {error}") from None
    if not isinstance(metadata, dict):
        raise SummaryError(f"{path}: not a JSON object")
    if not isinstance(metadata.get("model_version"), str):
        raise SummaryError(f"{path}: no model_version")
    if not isinstance(metadata.get("metrics"), dict):
        raise SummaryError(f"{path}: no metrics")
    return metadata


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def flatten_metrics(metrics: Mapping[str, Any]) -> Metrics:
    """Scalar metrics by display name: holdout numbers as they are, cross-validation means.

    {"holdout": {"accuracy": 0.99}, "cv": {"accuracy": {"mean": 0.98, "std": 0.01}}} gives
    {"holdout accuracy": 0.99, "cv accuracy (mean)": 0.98}. Lists (the confusion matrix) and
    nested per-class tables are left out; unknown sections are flattened the same way.
    """
    flat: Metrics = {}
    for section, values in metrics.items():
        if not isinstance(values, Mapping):
            continue
        for name, value in values.items():
            number = _number(value)
            if number is not None:
                flat[f"{section} {name}"] = number
            elif isinstance(value, Mapping) and _number(value.get("mean")) is not None:
                flat[f"{section} {name} (mean)"] = float(value["mean"])
    return flat


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}"


def _delta(new: float | None, old: float | None) -> str:
    if new is None or old is None:
        return "—"
    change = new - old
    return "0" if change == 0 else f"{change:+.3g}"


def render(metadata: Mapping[str, Any], baseline: Mapping[str, Any] | None, note: str) -> str:
    """The Markdown summary: version, data, metrics table (with baseline columns if given)."""
    version = metadata["model_version"]
    lines = [f"## Model `{version}`", ""]
    data = metadata.get("data")
    if isinstance(data, Mapping) and data.get("file"):
        rows, sha = data.get("rows", "?"), str(data.get("sha256", ""))[:12]
        lines += [f"Trained on `{data['file']}` ({rows} rows, sha256 `{sha}…`).", ""]
    ours = flatten_metrics(metadata["metrics"])
    if baseline is None:
        lines += ["| Metric | This model |", "|---|---:|"]
        lines += [f"| {name} | {_fmt(value)} |" for name, value in ours.items()]
    else:
        theirs = flatten_metrics(baseline["metrics"])
        main_version = baseline["model_version"]
        lines += [
            f"| Metric | This model | main (`{main_version}`) | Change |",
            "|---|---:|---:|---:|",
        ]
        for name in list(ours) + [name for name in theirs if name not in ours]:
            new, old = ours.get(name), theirs.get(name)
            lines.append(f"| {name} | {_fmt(new)} | {_fmt(old)} | {_delta(new, old)} |")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("artifact_dir", type=Path, help="directory with metadata.json")
    parser.add_argument(
        "--baseline", type=Path, help="artifact directory of the model to compare with"
    )
    args = parser.parse_args(argv)
    try:
        metadata = load_metadata(args.artifact_dir)
    except SummaryError as error:
        print(f"metrics_summary: {error}", file=sys.stderr)
        return 1
    baseline, note = None, ""
    if args.baseline is not None:
        try:
            baseline = load_metadata(args.baseline)
        except SummaryError as error:
            note = f"No model from main to compare with ({error})."
    sys.stdout.write(render(metadata, baseline, note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
