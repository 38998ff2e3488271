"""`python -m model`: train, evaluate and batch-score from the command line.

Errors the user can fix are printed as one line on stderr with a non-zero exit code:
1 for bad input (data, artifact, paths), 2 for a failed quality gate, 3 for a batch run that
finished but rejected some rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model import config
from model.errors import ModelError

EXIT_REJECTED_ROWS = 3


def _parser() -> argparse.ArgumentParser:
    defaults = config.TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m model",
        description="Train, evaluate and batch-score the banknote authentication classifier.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="validate the data, train, evaluate, gate and write the artifact"
    )
    train.add_argument("--data", type=Path, default=config.DATA_PATH, help="%(default)s")
    train.add_argument("--out", type=Path, default=config.ARTIFACT_DIR, help="%(default)s")
    train.add_argument("--seed", type=int, default=defaults.seed, help="%(default)s")
    train.add_argument(
        "--min-accuracy", type=float, default=defaults.min_accuracy, help="gate, %(default)s"
    )
    train.add_argument(
        "--min-roc-auc", type=float, default=defaults.min_roc_auc, help="gate, %(default)s"
    )

    evaluate = commands.add_parser("evaluate", help="re-evaluate an artifact on a data file")
    evaluate.add_argument("--model", type=Path, default=config.ARTIFACT_DIR, help="%(default)s")
    evaluate.add_argument("--data", type=Path, default=config.DATA_PATH, help="%(default)s")
    evaluate.add_argument("--output", type=Path, help="also write the metrics as JSON here")

    predict = commands.add_parser(
        "predict",
        help="score a CSV of notes (header: variance,skewness,curtosis,entropy)",
        description="Rows that cannot be scored go to a reject file with their line number; "
        f"every good row is still scored. Exit code {EXIT_REJECTED_ROWS} when rows were rejected.",
    )
    predict.add_argument("--model", type=Path, default=config.ARTIFACT_DIR, help="%(default)s")
    predict.add_argument("--input", type=Path, required=True)
    predict.add_argument("--output", type=Path, required=True)
    predict.add_argument(
        "--rejects", type=Path, help="reject file (default: OUTPUT with .rejects.csv)"
    )
    return parser


def _print_table(rows: list[tuple[str, Any]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"  {name:<{width}}  {shown}")


def _summary(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    keys = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier")
    return [(key, metrics[key]) for key in keys] + [
        ("confusion_matrix", metrics["confusion_matrix"])
    ]


def _train(args: argparse.Namespace) -> int:
    from model.build import train_artifact

    train_config = replace(
        config.TrainConfig(),
        seed=args.seed,
        min_accuracy=args.min_accuracy,
        min_roc_auc=args.min_roc_auc,
    )
    metadata = train_artifact(args.data, args.out, train_config)
    print(f"model {metadata.model_version} written to {args.out}")
    print(f"holdout ({metadata.data.test_rows} rows):")
    _print_table(_summary(metadata.metrics.holdout))
    cv = metadata.metrics.cv
    print(f"{cv['folds']}-fold CV on the training split: accuracy {cv['accuracy']['mean']:.4f}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from model.artifact import load_artifact
    from model.data import load_dataset
    from model.evaluate import evaluate

    artifact = load_artifact(args.model)
    dataset = load_dataset(args.data)
    metrics = evaluate(artifact.pipeline, dataset.features, dataset.labels)
    report = {
        "timestamp": datetime.now(UTC).isoformat(),
        "model_version": artifact.metadata.model_version,
        "data": {"file": str(args.data), "sha256": dataset.sha256, "rows": dataset.rows},
        "metrics": metrics,
    }
    print(f"model {artifact.metadata.model_version} on {args.data} ({dataset.rows} rows):")
    _print_table(_summary(metrics))
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from model.batch import score_csv

    report = score_csv(args.model, args.input, args.output, args.rejects)
    print(f"scored {report.scored} rows into {args.output}", file=sys.stderr)
    if report.rejected:
        print(
            f"rejected {report.rejected} rows, listed with line numbers in {report.rejects_path}",
            file=sys.stderr,
        )
        return EXIT_REJECTED_ROWS
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    args = _parser().parse_args(argv)
    handler = {"train": _train, "evaluate": _evaluate, "predict": _predict}[args.command]
    try:
        return handler(args)
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # unwritable output, disk full, permission denied...
        print(
            f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 1
