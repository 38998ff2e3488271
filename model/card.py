"""Render MODEL_CARD.md from an artifact's metadata (the card never says what metadata doesn't)."""

from __future__ import annotations

from contract import QUANTILE_KEYS, ArtifactMetadata, FeatureStatsBlock, Metrics

METRIC_ROWS = (
    ("accuracy", "Accuracy"),
    ("precision", "Precision (forged)"),
    ("recall", "Recall (forged)"),
    ("f1", "F1 (forged)"),
    ("roc_auc", "ROC AUC"),
    ("log_loss", "Log loss"),
    ("brier", "Brier score"),
)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def metrics_table(metrics: Metrics) -> str:
    """Markdown table: holdout value and k-fold CV mean ± std for each metric."""
    holdout, cv = metrics.holdout, metrics.cv
    lines = [
        f"| Metric | Holdout ({holdout['rows']} rows) | {cv['folds']}-fold CV on training split |",
        "| --- | --- | --- |",
    ]
    for key, title in METRIC_ROWS:
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


def render_model_card(metadata: ArtifactMetadata) -> str:
    """The whole model card as Markdown."""
    data, params, metrics = metadata.data, metadata.hyperparameters, metadata.metrics
    parity = metadata.onnx.parity
    holdout = metrics.holdout
    (tn, fp), (fn, tp) = holdout["confusion_matrix"]
    per_class = "\n".join(
        f"| {name} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['support']} |"
        for name, m in holdout["per_class"].items()
    )
    classes = "\n".join(f"| {c.value} | {c.name} | {c.label} |" for c in metadata.classes)
    counts = ", ".join(f"{count} {name}" for name, count in data.class_counts.items())
    versions = ", ".join(f"{name} {v}" for name, v in metadata.versions.items())
    return f"""# Model card: banknote authentication classifier

Version `{metadata.model_version}`, trained {metadata.created_at} from commit
`{metadata.git_commit or "unknown"}`.

## Intended use
Tells forged banknotes from genuine ones from four statistics of a wavelet-transformed image of
the note, as produced by the UCI data set's industrial camera set-up. It is a teaching and
reference model for an MLOps pipeline: a decision aid for notes imaged the same way, not a
substitute for physical security-feature checks.

## Model
scikit-learn `Pipeline`: `StandardScaler` then an RBF `SVC` (C={params["C"]},
gamma={params["gamma"]}) whose decision values are turned into probabilities by sigmoid
calibration fitted with {params["calibration_folds"]}-fold cross-validation
(`CalibratedClassifierCV(ensemble=False)`). C and gamma were chosen by a
{params["search_folds"]}-fold stratified grid search on the training split (scoring: log loss)
over C in {params["c_grid"]} and gamma in {params["gamma_grid"]}. Seed {params["seed"]}.
Served as an ONNX export (float32), verified against the pipeline on all {parity.rows} rows
of the data file: labels identical, probabilities within a per-row float32 error bound
(largest bound {parity.max_tolerance:.1e}; largest gap {parity.max_probability_gap:.1e}, at
most {parity.max_gap_to_tolerance:.0%} of its row's bound; rows too close to 0.5 for float32 to
decide the class: {parity.undecidable_rows}).

## Data
`{data.file}` (UCI Machine Learning Repository, "banknote authentication", CC BY 4.0),
sha256 `{data.sha256}`: {data.rows} rows ({counts}).
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
UCI does not document which class value means "forged". This model uses the majority reading of
secondary sources, which the class statistics support (class 0 has the higher wavelet variance,
as genuine prints do) and which the original project used.

| Class | Name | Label in the API |
| --- | --- | --- |
{classes}

## Metrics
{metrics_table(metrics)}

Holdout confusion matrix: {tn} genuine and {tp} forged notes right, {fp} genuine notes called
forged, {fn} forged notes called genuine.

| Class | Precision | Recall | F1 | Support |
| --- | --- | --- | --- | --- |
{per_class}

Quality gate: holdout accuracy >= {metadata.quality_gate.min_accuracy} and ROC AUC >=
{metadata.quality_gate.min_roc_auc}; training refuses to write an artifact below them.

## Limits
- The data set is small (1,372 images, {data.unique_rows} unique) and comes from one camera
  set-up; notes imaged differently (phone cameras, other resolutions) shift the features.
- Forgeries from counterfeit families, printers or papers absent from the data may not be
  recognised; near-perfect holdout scores say little about those.
- Probabilities are calibrated on this data only; treat values near 0.5 as "inspect by hand".

## Environment
{versions}
"""
