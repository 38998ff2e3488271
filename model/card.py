"""Render MODEL_CARD.md from an artifact's metadata and its spec's prose.

The figures, tables and facts come from metadata.json only (the card never says what metadata
doesn't); what only a person can say (intended use, data source, label convention, limits) comes
from the spec's [card] table, and a section the spec leaves out says so.
"""

from __future__ import annotations

from contract import QUANTILE_KEYS, ArtifactMetadata, FeatureStatsBlock, Metrics
from model.figures import CALIBRATION_FILE, CONFUSION_FILE, ROC_FILE
from model.spec import CardSpec

FIGURES = (
    (ROC_FILE, "ROC curve"),
    (CALIBRATION_FILE, "Calibration (reliability) curve"),
    (CONFUSION_FILE, "Confusion matrix"),
)

NOT_GIVEN = "_Not given in the model spec ([card] table)._"


def metric_rows(positive: str) -> tuple[tuple[str, str], ...]:
    """(metric key, title) of the card's metrics table; precision, recall and F1 are the
    positive class's."""
    return (
        ("accuracy", "Accuracy"),
        ("precision", f"Precision ({positive})"),
        ("recall", f"Recall ({positive})"),
        ("f1", f"F1 ({positive})"),
        ("roc_auc", "ROC AUC"),
        ("log_loss", "Log loss"),
        ("brier", "Brier score"),
    )


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def metrics_table(metrics: Metrics, positive: str) -> str:
    """Markdown table: holdout value and k-fold CV mean ± std for each metric."""
    holdout, cv = metrics.holdout, metrics.cv
    lines = [
        f"| Metric | Holdout ({holdout['rows']} rows) | {cv['folds']}-fold CV on training split |",
        "| --- | --- | --- |",
    ]
    for key, title in metric_rows(positive):
        lines.append(
            f"| {title} | {_number(holdout[key])} | {cv[key]['mean']:.4f} ± {cv[key]['std']:.4f} |"
        )
    return "\n".join(lines)


def feature_stats_table(stats: FeatureStatsBlock) -> str:
    """Markdown table: each feature's min, quantiles and max on the training rows."""
    levels = [f"{float(key):.0%}" for key in QUANTILE_KEYS]
    lines = [
        "| Feature | min | " + " | ".join(levels) + " | max |",
        "| --- |" + " ---: |" * (len(levels) + 2),
    ]
    for name, feature in stats.features.items():
        values = [feature.min, *feature.quantiles.values(), feature.max]
        lines.append(f"| {name} | " + " | ".join(f"{v:.4g}" for v in values) + " |")
    return "\n".join(lines)


def figures_section(metadata: ArtifactMetadata) -> str:
    """Relative links to the figures the artifact holds (an artifact without them: none)."""
    shown = [f"![{title}]({name})" for name, title in FIGURES if name in metadata.files]
    if not shown:
        return ""
    return (
        f"\n## Figures\nThe {metadata.metrics.holdout['rows']} holdout rows, scored by the "
        "pipeline (the files sit next to this card).\n\n" + "\n".join(shown) + "\n"
    )


def render_model_card(metadata: ArtifactMetadata, texts: CardSpec) -> str:
    """The whole model card as Markdown."""
    data, params, metrics = metadata.data, metadata.hyperparameters, metadata.metrics
    model = metadata.contract
    signature = model.signature()
    rows = model.api.rows
    parity = metadata.onnx.parity
    holdout = metrics.holdout
    matrix = holdout["confusion_matrix"]
    (first, second) = (c.name for c in model.classes)
    per_class = "\n".join(
        f"| {name} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['support']} |"
        for name, m in holdout["per_class"].items()
    )
    classes = "\n".join(f"| {c.value} | {c.name} | {c.label} |" for c in model.classes)
    features = "\n".join(
        f"| `{f.name}` | {f.description} | {f.unit or ''} |" for f in model.features
    )
    counts = ", ".join(f"{count} {name}" for name, count in data.class_counts.items())
    versions = ", ".join(f"{name} {v}" for name, v in metadata.versions.items())
    source = f" ({texts.data_source})" if texts.data_source else ""
    return f"""# Model card: {texts.title or model.name}

Version `{metadata.model_version}`, trained {metadata.created_at} from commit
`{metadata.git_commit or "unknown"}`.

## Intended use
{texts.intended_use or NOT_GIVEN}

## Model
Built by `{params["estimator"]}` and chosen by a {params["search_folds"]}-fold stratified grid
search on the training split (scoring: log loss) over `{params["param_grid"]}`; best
`{params["best_params"]}`. Seed {params["seed"]}. The fitted estimator, with its own parameters:

```text
{params["fitted"]}
```

Served as an ONNX export (float32), verified against the fitted model on all {parity.rows} rows
of the data file: labels identical, probabilities within a per-row float32 error bound
(median bound {parity.median_tolerance:.1e}, largest {parity.max_tolerance:.1e}; largest gap
{parity.max_probability_gap:.1e}, at most {parity.max_gap_to_tolerance:.0%} of its row's bound;
rows too close to 0.5 for float32 to decide the class: {parity.undecidable_rows}).

## Inputs
In the model's order; the API's request fields and batch scoring's columns.

| Feature | Description | Unit |
| --- | --- | --- |
{features}

## Data
`{data.file}`{source}, sha256 `{data.sha256}`: {data.rows} rows ({counts}).
The file holds {data.duplicates_removed} exact duplicate rows; they were **removed before the
split** so that no row appears on both sides. Of the {data.unique_rows} unique rows,
{data.train_rows} train and {data.test_rows} form a stratified holdout
({int(params["test_size"] * 100)} %).

## Training ranges
Per feature, over the {metadata.feature_stats.rows} rows of the {metadata.feature_stats.source}.
Recorded in metadata.json so that serving can watch for inputs drifting away from this data:
values outside [min, max], and how inputs spread over these quantiles.

{feature_stats_table(metadata.feature_stats)}

## Label convention
{texts.label_convention or NOT_GIVEN}

| Class | Name | Label in the API |
| --- | --- | --- |
{classes}

The API reports `{signature.probability_field}`, the probability of class
{signature.positive_class} ({signature.positive.name}).

## Metrics
{metrics_table(metrics, signature.positive.name)}

Holdout confusion matrix: {matrix[0][0]} {first} and {matrix[1][1]} {second} {rows} right,
{matrix[0][1]} {first} {rows} called {second}, {matrix[1][0]} {second} {rows} called {first}.

| Class | Precision | Recall | F1 | Support |
| --- | --- | --- | --- | --- |
{per_class}

Quality gate: holdout accuracy >= {metadata.quality_gate.min_accuracy} and ROC AUC >=
{metadata.quality_gate.min_roc_auc}; training refuses to write an artifact below them.
{figures_section(metadata)}
## Limits
{texts.limits or NOT_GIVEN}

## Environment
{versions}
"""
