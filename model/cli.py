"""`python -m model`: train, compare, evaluate and batch-score from the command line.

Errors the user can fix are printed as one line on stderr with a non-zero exit code:
1 for bad input (data, artifact, paths, usage), 2 for a failed quality gate, 3 for a batch run
that finished but rejected some rows, 4 for a challenger worse than the champion beyond
tolerance (`compare`, `train --champion`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from model import config
from model.errors import ModelError, RegressionError

if TYPE_CHECKING:
    from model.compare import Comparison

EXIT_REJECTED_ROWS = 3


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error is one line and exit code 1 (2 is the quality gate)."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"error: {message} (see: {self.prog} --help)\n")


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text!r}")
    return value


def _add_comparison_options(command: argparse.ArgumentParser, report_prefix: str) -> None:
    defaults = config.CompareConfig()
    group = command.add_argument_group(
        "comparison with the champion",
        "The challenger fails when its accuracy is lower than the champion's by more than "
        "MAX_ACCURACY_DROP, or its log loss higher by more than the larger of "
        "MAX_LOG_LOSS_INCREASE and MAX_LOG_LOSS_INCREASE_RATIO x the champion's log loss.",
    )
    group.add_argument(
        "--max-accuracy-drop", type=_tolerance, default=defaults.max_accuracy_drop,
        help="%(default)s",
    )  # fmt: skip
    group.add_argument(
        "--max-log-loss-increase", type=_tolerance, default=defaults.max_log_loss_increase,
        help="%(default)s",
    )  # fmt: skip
    group.add_argument(
        "--max-log-loss-increase-ratio", type=_tolerance,
        default=defaults.max_log_loss_increase_ratio, help="%(default)s",
    )  # fmt: skip
    group.add_argument(
        "--accept-regression",
        action="store_true",
        help="report a regression but do not fail on it (a person accepts it on purpose)",
    )
    group.add_argument(
        f"--{report_prefix}json", type=Path, metavar="FILE", help="write the comparison as JSON"
    )
    group.add_argument(
        f"--{report_prefix}markdown",
        type=Path,
        metavar="FILE",
        help="write the comparison as Markdown (job summary, PR comment)",
    )


def _parser() -> argparse.ArgumentParser:
    defaults = config.TrainConfig()
    parser = _Parser(
        prog="python -m model",
        description="Train, compare, evaluate and batch-score the banknote authentication "
        "classifier.",
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
    train.add_argument(
        "--champion",
        type=Path,
        metavar="DIR",
        help="the serving model's artifact: the new model is written only if it is not worse "
        f"on the same holdout rows (exit code {RegressionError.exit_code} otherwise)",
    )
    _add_comparison_options(train, report_prefix="compare-")

    compare = commands.add_parser(
        "compare",
        help="score two artifacts on the same holdout rows; fail if the challenger is worse",
        description="Both models are scored through their model.onnx (hash-verified) on the "
        "holdout split of --data, with training's deduplication, stratification and seed. "
        f"Exit code {RegressionError.exit_code} when the challenger is worse beyond tolerance.",
    )
    compare.add_argument("--champion", type=Path, metavar="DIR", required=True)
    compare.add_argument("--challenger", type=Path, metavar="DIR", required=True)
    compare.add_argument("--data", type=Path, default=config.DATA_PATH, help="%(default)s")
    compare.add_argument(
        "--seed", type=int, help="holdout split seed (default: the challenger's training seed)"
    )
    _add_comparison_options(compare, report_prefix="")

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


def _compare_config(args: argparse.Namespace) -> config.CompareConfig:
    return config.CompareConfig(
        max_accuracy_drop=args.max_accuracy_drop,
        max_log_loss_increase=args.max_log_loss_increase,
        max_log_loss_increase_ratio=args.max_log_loss_increase_ratio,
    )


def _report(comparison: Comparison, json_path: Path | None, markdown_path: Path | None) -> None:
    """Print the comparison, write the requested files, and raise if it is a regression."""
    from model.compare_report import render_markdown, render_text

    print(render_text(comparison), end="")
    if json_path:
        json_path.write_text(json.dumps(comparison.to_dict(), indent=2) + "\n")
    if markdown_path:
        markdown_path.write_text(render_markdown(comparison))
    champion, challenger = comparison.champion, comparison.challenger
    summary = (
        f"challenger {challenger.model_version} is worse than champion "
        f"{champion.model_version} beyond tolerance: " + "; ".join(comparison.reasons.values())
    )
    if comparison.regression and comparison.accepted:
        print(f"warning: {summary}; accepted with --accept-regression", file=sys.stderr)
    elif comparison.regression:
        raise RegressionError(summary)


def _train(args: argparse.Namespace) -> int:
    from model.build import train_candidate, write_candidate
    from model.compare import Holdout, compare_models
    from model.served import load_served

    reports = (args.compare_json, args.compare_markdown, args.accept_regression)
    if args.champion is None and any(reports):
        raise ModelError(
            "--compare-json, --compare-markdown and --accept-regression need --champion"
        )
    # The champion is checked before any training time is spent on a run that cannot finish.
    champion = load_served(args.champion) if args.champion else None
    train_config = replace(
        config.TrainConfig(),
        seed=args.seed,
        min_accuracy=args.min_accuracy,
        min_roc_auc=args.min_roc_auc,
    )
    candidate = train_candidate(args.data, train_config)
    metadata = candidate.metadata
    print(f"model {metadata.model_version} trained; holdout ({metadata.data.test_rows} rows):")
    _print_table(_summary(metadata.metrics.holdout))
    cv = metadata.metrics.cv
    print(f"{cv['folds']}-fold CV on the training split: accuracy {cv['accuracy']['mean']:.4f}")
    if champion is not None:
        holdout = Holdout(
            candidate.split.x_test,
            candidate.split.y_test,
            metadata.data.file,
            metadata.data.sha256,
            train_config.seed,
            train_config.test_size,
        )
        comparison = compare_models(
            champion, candidate.served(), holdout, _compare_config(args), args.accept_regression
        )
        try:
            _report(comparison, args.compare_json, args.compare_markdown)
        except RegressionError as error:
            raise RegressionError(f"{error}; nothing written, {args.out} is unchanged") from None
    write_candidate(candidate, args.out)
    print(f"model {metadata.model_version} written to {args.out}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from model.compare import compare_models, holdout_rows
    from model.served import load_served

    champion = load_served(args.champion)
    challenger = load_served(args.challenger)
    recorded = challenger.hyperparameters
    defaults = config.TrainConfig()
    seed = args.seed if args.seed is not None else recorded.get("seed", defaults.seed)
    test_size = recorded.get("test_size", defaults.test_size)
    if not isinstance(seed, int) or not isinstance(test_size, float) or not 0 < test_size < 1:
        raise ModelError(
            f"{args.challenger}: metadata records no usable holdout split "
            f"(seed {seed!r}, test_size {test_size!r}); give --seed"
        )
    holdout = holdout_rows(args.data, seed, test_size)
    comparison = compare_models(
        champion, challenger, holdout, _compare_config(args), args.accept_regression
    )
    _report(comparison, args.json, args.markdown)
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
    handler = {
        "train": _train,
        "compare": _compare,
        "evaluate": _evaluate,
        "predict": _predict,
    }[args.command]
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
