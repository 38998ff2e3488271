"""The comparison as people read it: a terminal table and a Markdown table."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from model.compare import REPORTED_METRICS, Comparison, NewContract, Scored

# False positive rates at which the Markdown chart shows each model's true positive rate.
CHART_RATES: Final = tuple(round(0.1 * step, 1) for step in range(11))

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
    names = ", ".join(c.name for c in comparison.signature.classes)
    lines.append(f"  confusion matrices (rows: true {names}; columns: predicted {names})")
    lines.append(f"    champion    {comparison.champion.metrics['confusion_matrix']}")
    lines.append(f"    challenger  {comparison.challenger.metrics['confusion_matrix']}")
    lines.append(_verdict_line(comparison))
    return "\n".join(lines) + "\n"


def _true_positive_rates(comparison: Comparison, scored: Scored) -> list[float]:
    """The ROC curve read at CHART_RATES: the best true positive rate at or below each rate."""
    from model.figures import Scores, roc_points

    labels = (comparison.holdout.labels == comparison.signature.positive_class).astype(np.int64)
    false_positive, true_positive = roc_points(Scores(scored.role, labels, scored.positive))
    at = np.searchsorted(false_positive, CHART_RATES, side="right") - 1
    return [float(true_positive[index]) for index in at]


def roc_chart(comparison: Comparison) -> list[str]:
    """Both ROC curves as a Mermaid chart, which GitHub draws in Markdown; none for one class.

    A job summary or a PR comment cannot show the comparison PNG itself (GitHub strips data:
    URIs from Markdown images, and an artifact URL needs a signed-in browser), so the chart
    redraws its left half from the same numbers. Bars and a line tell the models apart: a
    Mermaid xychart has no legend (mermaid-js/mermaid#5292).
    """
    if len(np.unique(comparison.holdout.labels)) < 2:
        return []

    def values(scored: Scored) -> str:
        return ", ".join(f"{rate:.3f}" for rate in _true_positive_rates(comparison, scored))

    positive = comparison.signature.positive.name
    return [
        "```mermaid",
        "xychart-beta",
        '    title "ROC on the holdout rows: bars champion, line challenger"',
        f'    x-axis "false positive rate" [{", ".join(f"{r:g}" for r in CHART_RATES)}]',
        f'    y-axis "true positive rate ({positive})" 0 --> 1',
        f"    bar [{values(comparison.champion)}]",
        f"    line [{values(comparison.challenger)}]",
        "```",
    ]


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
    names = ", ".join(c.name for c in comparison.signature.classes)
    lines.append(
        f"| confusion matrix (rows: true {names}; columns: predicted) | "
        f"{champion.metrics['confusion_matrix']} | {challenger.metrics['confusion_matrix']} | |"
    )
    tolerances = comparison.tolerances
    allowance = tolerances.log_loss_allowance(champion.metrics["log_loss"])
    chart = roc_chart(comparison)
    if chart:
        lines += ["", *chart]
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


NEW_CONTRACT = "new model contract: no comparison possible"


def _contract_identity(role: str, report: NewContract) -> str:
    model = report.champion if role == "champion" else report.challenger
    return f"{model.model_version} (format {model.format_version}, {model.source})"


def _new_contract_verdict(report: NewContract) -> str:
    if report.accepted:
        return f"verdict: {NEW_CONTRACT}; accepted on purpose"
    return f"verdict: {NEW_CONTRACT}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_new_contract_text(report: NewContract) -> str:
    """Why two models cannot be compared, for a terminal."""
    lines = [
        f"champion    {_contract_identity('champion', report)}",
        f"challenger  {_contract_identity('challenger', report)}",
        "the two models take or answer different things:",
        *(
            f"  {what:<15} champion: {old}\n  {'':<15} challenger: {new}"
            for what, (old, new) in report.differences.items()
        ),
        _new_contract_verdict(report),
    ]
    return "\n".join(lines) + "\n"


def render_new_contract_markdown(report: NewContract) -> str:
    """The same in Markdown, for a job summary or a pull-request comment."""
    lines = [
        "### Champion vs challenger",
        "",
        f"The challenger `{report.challenger.model_version}` has a new model contract: "
        f"it cannot be scored on the champion `{report.champion.model_version}`'s rows, "
        "so no comparison is possible.",
        "",
        "| | champion | challenger |",
        "| --- | --- | --- |",
        *(
            f"| {what} | {_cell(old)} | {_cell(new)} |"
            for what, (old, new) in report.differences.items()
        ),
        "",
        f"**{_new_contract_verdict(report).replace('verdict: ', 'Verdict: ', 1)}**",
    ]
    return "\n".join(lines) + "\n"
