"""The comparison as people read it: a terminal table and a Markdown table."""

from __future__ import annotations

from typing import Any

from model.compare import REPORTED_METRICS, Comparison, Scored

TITLES = {"accuracy": "accuracy", "roc_auc": "ROC AUC", "log_loss": "log loss", "brier": "Brier"}


def _value(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _change(champion: Any, challenger: Any) -> str:
    if champion is None or challenger is None:
        return ""
    return f"{challenger - champion:+.4f}"


def _rows(comparison: Comparison) -> list[tuple[str, str, str, str, str]]:
    """(metric, champion, challenger, change, mark) for every reported metric."""
    champion, challenger = comparison.champion.metrics, comparison.challenger.metrics
    return [
        (
            TITLES[key],
            _value(champion[key]),
            _value(challenger[key]),
            _change(champion[key], challenger[key]),
            "worse beyond tolerance" if key in comparison.reasons else "",
        )
        for key in REPORTED_METRICS
    ]


def _identity(scored: Scored) -> str:
    return f"{scored.model_version} (format {scored.format_version}, {scored.source})"


def _holdout_line(comparison: Comparison) -> str:
    holdout = comparison.holdout
    return (
        f"{len(holdout.labels)} holdout rows of {holdout.data_file} (sha256 "
        f"{holdout.data_sha256[:12]}…; duplicates removed, stratified {holdout.test_size:.0%}, "
        f"seed {holdout.seed}), scored through each model's model.onnx"
    )


def _verdict_line(comparison: Comparison) -> str:
    if not comparison.regression:
        return "verdict: pass (the challenger is not worse beyond tolerance)"
    reasons = "; ".join(comparison.reasons.values())
    if comparison.accepted:
        return f"verdict: regression accepted on purpose: {reasons}"
    return f"verdict: regression: {reasons}"


def render_text(comparison: Comparison) -> str:
    """The side-by-side table for a terminal."""
    lines = [
        f"champion    {_identity(comparison.champion)}",
        f"challenger  {_identity(comparison.challenger)}",
        _holdout_line(comparison),
        "",
        f"  {'metric':<10}  {'champion':>10}  {'challenger':>10}  {'change':>8}",
    ]
    for title, champion, challenger, change, mark in _rows(comparison):
        row = f"  {title:<10}  {champion:>10}  {challenger:>10}  {change:>8}  {mark}"
        lines.append(row.rstrip())
    lines.append(
        "  confusion matrices (rows: true genuine, forged; columns: predicted genuine, forged)"
    )
    lines.append(f"    champion    {comparison.champion.metrics['confusion_matrix']}")
    lines.append(f"    challenger  {comparison.challenger.metrics['confusion_matrix']}")
    lines.append(_verdict_line(comparison))
    return "\n".join(lines) + "\n"


def render_markdown(comparison: Comparison) -> str:
    """The same table in Markdown, for a job summary or a pull-request comment."""
    champion, challenger = comparison.champion, comparison.challenger
    lines = [
        "### Champion vs challenger",
        "",
        _holdout_line(comparison).replace("model.onnx", "`model.onnx`") + ".",
        "",
        "| | champion | challenger | change |",
        "| --- | ---: | ---: | ---: |",
        f"| model version | `{champion.model_version}` | `{challenger.model_version}` | |",
        f"| artifact format | {champion.format_version} | {challenger.format_version} | |",
    ]
    for title, old, new, change, mark in _rows(comparison):
        flagged = f"**{change}** (worse beyond tolerance)" if mark else change
        lines.append(f"| {title} | {old} | {new} | {flagged} |")
    lines.append(
        "| confusion matrix (rows: true genuine, forged; columns: predicted) | "
        f"{champion.metrics['confusion_matrix']} | {challenger.metrics['confusion_matrix']} | |"
    )
    tolerances = comparison.tolerances
    allowance = tolerances.log_loss_allowance(champion.metrics["log_loss"])
    lines += [
        "",
        f"Rule: the challenger fails when its accuracy is more than "
        f"{tolerances.max_accuracy_drop:g} below the champion's, or its log loss more than "
        f"{allowance:.4f} above it (the larger of {tolerances.max_log_loss_increase:g} and "
        f"{tolerances.max_log_loss_increase_ratio:.0%} of the champion's).",
        "",
        f"**{_verdict_line(comparison).replace('verdict: ', 'Verdict: ', 1)}**",
    ]
    return "\n".join(lines) + "\n"
