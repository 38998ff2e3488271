"""`python -m model`: train, compare, evaluate and batch-score from the command line.

Each command works on one model spec (--spec, default model/config.py's DEFAULT_SPEC: the
banknote model). Errors the user can fix are printed as one line on stderr with a non-zero exit
code: 1 for bad input (spec, data, artifact, paths, usage), 2 for a failed quality gate, 3 for a
batch run that finished but rejected some rows, 4 for a challenger worse than the champion
beyond tolerance and 5 for a challenger with a new model contract (other name, features or
classes: no comparison possible) (`compare`, `train --champion`).
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
from model.errors import ModelError, NewContractError, RegressionError

if TYPE_CHECKING:
    from contract import Signature
    from model.compare import Comparison, NewContract
    from model.spec import ModelSpec

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
        help="largest accepted fall in accuracy (default %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--max-log-loss-increase", type=_tolerance, default=defaults.max_log_loss_increase,
        help="largest accepted rise in log loss (default %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--max-log-loss-increase-ratio", type=_tolerance,
        default=defaults.max_log_loss_increase_ratio,
        help="largest accepted rise in log loss as a share of the champion's "
        "(default %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--accept-regression",
        action="store_true",
        help="report a regression or a new model contract but do not fail on it (a person "
        "accepts it on purpose)",
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
    group.add_argument(
        f"--{report_prefix}figure",
        type=Path,
        metavar="FILE",
        help="draw both models' ROC and calibration curves on the holdout rows (PNG)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python -m model`."""
    defaults = config.TrainConfig()
    parser = _Parser(
        prog="python -m model",
        description="Train, compare, evaluate and batch-score a binary classifier described by "
        "a model spec (docs/adapt-your-model.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    spec_help = "the model spec (TOML), default %(default)s"
    data_help = "data file in the spec's layout (default: the spec's `data`)"

    train = commands.add_parser(
        "train", help="validate the data, train, evaluate, gate and write the artifact"
    )
    train.add_argument("--spec", type=Path, default=config.DEFAULT_SPEC, help=spec_help)
    train.add_argument("--data", type=Path, help=data_help)
    train.add_argument(
        "--out", type=Path, default=config.ARTIFACT_DIR,
        help="artifact directory to write (default %(default)s)",
    )  # fmt: skip
    train.add_argument(
        "--seed", type=int, default=defaults.seed,
        help="seed of the holdout split and the model (default %(default)s)",
    )  # fmt: skip
    train.add_argument(
        "--min-accuracy", type=float,
        help="quality gate: least holdout accuracy (default: the spec's [gate])",
    )  # fmt: skip
    train.add_argument(
        "--min-roc-auc", type=float,
        help="quality gate: least holdout ROC AUC (default: the spec's [gate])",
    )  # fmt: skip
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
        "holdout split of the spec's data, with training's deduplication, stratification and "
        f"seed. Exit code {RegressionError.exit_code} when the challenger is worse beyond "
        f"tolerance, {NewContractError.exit_code} when its contract (name, features, classes) "
        "is not the champion's: then no comparison is possible.",
    )
    compare.add_argument(
        "--champion", type=Path, metavar="DIR", required=True,
        help="artifact directory of the serving model",
    )  # fmt: skip
    compare.add_argument(
        "--challenger", type=Path, metavar="DIR", required=True,
        help="artifact directory of the new model",
    )  # fmt: skip
    compare.add_argument(
        "--spec", type=Path, default=config.DEFAULT_SPEC, help="the challenger's " + spec_help
    )
    compare.add_argument(
        "--data", type=Path,
        help="data file whose holdout split both are scored on (default: the spec's `data`)",
    )  # fmt: skip
    compare.add_argument(
        "--seed", type=int, help="holdout split seed (default: the challenger's training seed)"
    )
    _add_comparison_options(compare, report_prefix="")

    evaluate = commands.add_parser("evaluate", help="re-evaluate an artifact on a data file")
    evaluate.add_argument(
        "--model", type=Path, default=config.ARTIFACT_DIR,
        help="artifact directory (default %(default)s)",
    )  # fmt: skip
    evaluate.add_argument("--spec", type=Path, default=config.DEFAULT_SPEC, help=spec_help)
    evaluate.add_argument(
        "--data", type=Path, help="data file to score, every row (default: the spec's `data`)"
    )
    evaluate.add_argument("--output", type=Path, help="also write the metrics as JSON here")

    predict = commands.add_parser(
        "predict",
        help="score a CSV whose header names the model's features (GET /model lists them)",
        description="The input's header must name the model's features (any order, other "
        "columns are carried through). Rows that cannot be scored go to a reject file with "
        "their line number; every good row is still scored. Exit code "
        f"{EXIT_REJECTED_ROWS} when rows were rejected.",
    )
    predict.add_argument(
        "--model", type=Path, default=config.ARTIFACT_DIR,
        help="artifact directory (default %(default)s)",
    )  # fmt: skip
    predict.add_argument("--input", type=Path, required=True, help="CSV of rows to score")
    predict.add_argument(
        "--output", type=Path, required=True, help="CSV to write: each row and its prediction"
    )
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


def _report(
    comparison: Comparison,
    json_path: Path | None,
    markdown_path: Path | None,
    figure_path: Path | None,
) -> None:
    """Print the comparison, write the requested files, and raise if it is a regression."""
    from model.compare import comparison_png
    from model.compare_report import render_markdown, render_text

    print(render_text(comparison), end="")
    if json_path:
        json_path.write_text(json.dumps(comparison.to_dict(), indent=2) + "\n")
    if markdown_path:
        markdown_path.write_text(render_markdown(comparison))
    if figure_path:
        figure_path.write_bytes(comparison_png(comparison))
    champion, challenger = comparison.champion, comparison.challenger
    summary = (
        f"challenger {challenger.model_version} is worse than champion "
        f"{champion.model_version} beyond tolerance: " + "; ".join(comparison.reasons.values())
    )
    if comparison.regression and comparison.accepted:
        print(f"warning: {summary}; accepted with --accept-regression", file=sys.stderr)
    elif comparison.regression:
        raise RegressionError(summary)


def _new_contract(report: NewContract, json_path: Path | None, markdown_path: Path | None) -> None:
    """Print why no comparison is possible, write the requested files, raise unless accepted."""
    from model.compare_report import (
        NEW_CONTRACT,
        render_new_contract_markdown,
        render_new_contract_text,
    )

    print(render_new_contract_text(report), end="")
    if json_path:
        json_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    if markdown_path:
        markdown_path.write_text(render_new_contract_markdown(report))
    what = ", ".join(report.differences)
    summary = (
        f"{NEW_CONTRACT}: challenger {report.challenger.model_version} differs from champion "
        f"{report.champion.model_version} in {what}"
    )
    if report.accepted:
        print(f"warning: {summary}; accepted with --accept-regression", file=sys.stderr)
    else:
        raise NewContractError(summary)


def _load_spec(path: Path, data: Path | None) -> ModelSpec:
    from model.spec import load_spec

    spec = load_spec(path)
    return spec.with_data(data) if data else spec


def _check_trained_from(
    signature: Signature, source: object, spec: ModelSpec, spec_path: Path
) -> None:
    """The model must be the spec's: same name, features and classes."""
    from model.describe import spec_signature

    differences = spec_signature(spec).differences(signature)
    if differences:
        raise ModelError(
            f"{source} was not trained from {spec_path} (its {', '.join(differences)} "
            "differ); give its --spec"
        )


def _train(args: argparse.Namespace) -> int:
    from model.build import train_candidate, write_candidate
    from model.compare import Holdout, compare_models, new_contract
    from model.served import load_served

    reports = (
        args.compare_json,
        args.compare_markdown,
        args.compare_figure,
        args.accept_regression,
    )
    if args.champion is None and any(reports):
        raise ModelError(
            "--compare-json, --compare-markdown, --compare-figure and --accept-regression "
            "need --champion"
        )
    spec = _load_spec(args.spec, args.data)
    if args.min_accuracy is not None or args.min_roc_auc is not None:
        spec = spec.with_gate(
            spec.gate.min_accuracy if args.min_accuracy is None else args.min_accuracy,
            spec.gate.min_roc_auc if args.min_roc_auc is None else args.min_roc_auc,
        )
    # The champion is checked before any training time is spent on a run that cannot finish.
    champion = load_served(args.champion) if args.champion else None
    train_config = replace(config.TrainConfig(), seed=args.seed)
    candidate = train_candidate(spec, train_config)
    metadata = candidate.metadata
    print(f"model {metadata.model_version} trained; holdout ({metadata.data.test_rows} rows):")
    _print_table(_summary(metadata.metrics.holdout))
    cv = metadata.metrics.cv
    print(f"{cv['folds']}-fold CV on the training split: accuracy {cv['accuracy']['mean']:.4f}")
    report = (
        new_contract(champion, candidate.served(), args.accept_regression) if champion else None
    )
    if report is not None:
        try:
            _new_contract(report, args.compare_json, args.compare_markdown)
        except NewContractError as error:
            raise NewContractError(f"{error}; nothing written, {args.out} is unchanged") from None
    elif champion is not None:
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
            _report(comparison, args.compare_json, args.compare_markdown, args.compare_figure)
        except RegressionError as error:
            raise RegressionError(f"{error}; nothing written, {args.out} is unchanged") from None
    write_candidate(candidate, args.out)
    print(f"model {metadata.model_version} written to {args.out}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from model.compare import compare_models, holdout_rows, new_contract
    from model.served import load_served

    champion = load_served(args.champion)
    challenger = load_served(args.challenger)
    # Models that take or answer different things cannot be scored on the same rows: said
    # before any data is read (the champion's data may not even be this spec's).
    report = new_contract(champion, challenger, args.accept_regression)
    if report is not None:
        _new_contract(report, args.json, args.markdown)
        return 0
    spec = _load_spec(args.spec, args.data)
    _check_trained_from(challenger.signature, challenger.source, spec, args.spec)
    recorded = challenger.hyperparameters
    defaults = config.TrainConfig()
    seed = args.seed if args.seed is not None else recorded.get("seed", defaults.seed)
    test_size = recorded.get("test_size", defaults.test_size)
    if not isinstance(seed, int) or not isinstance(test_size, float) or not 0 < test_size < 1:
        raise ModelError(
            f"{args.challenger}: metadata records no usable holdout split "
            f"(seed {seed!r}, test_size {test_size!r}); give --seed"
        )
    holdout = holdout_rows(spec, seed, test_size)
    comparison = compare_models(
        champion, challenger, holdout, _compare_config(args), args.accept_regression
    )
    _report(comparison, args.json, args.markdown, args.figure)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from model.artifact import load_artifact
    from model.data import load_dataset
    from model.evaluate import evaluate

    artifact = load_artifact(args.model)
    spec = _load_spec(args.spec, args.data)
    signature = artifact.metadata.contract.signature()
    _check_trained_from(signature, args.model, spec, args.spec)
    dataset = load_dataset(spec)
    metrics = evaluate(artifact.pipeline, dataset.features, dataset.labels, signature)
    report = {
        "timestamp": datetime.now(UTC).isoformat(),
        "model_version": artifact.metadata.model_version,
        "data": {"file": str(dataset.path), "sha256": dataset.sha256, "rows": dataset.rows},
        "metrics": metrics,
    }
    print(f"model {artifact.metadata.model_version} on {dataset.path} ({dataset.rows} rows):")
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
    args = build_parser().parse_args(argv)
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
