"""One training run end to end: validate, split, fit, evaluate, gate, export, then write.

`train_candidate` does everything but the write, so a caller can judge the candidate first
(against the serving champion, `python -m model train --champion`) and write it only then.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import contract
from contract import (
    ONNX_FILE,
    ONNX_INPUT,
    ONNX_LABEL_OUTPUT,
    ONNX_PROBABILITY_OUTPUT,
    PIPELINE_FILE,
    ArtifactCore,
    ArtifactMetadata,
    DataInfo,
    Metrics,
    OnnxInfo,
    QualityGate,
    Signature,
)
from model.artifact import dump_pipeline
from model.card import render_model_card
from model.config import ONNX_TARGET_OPSET, TrainConfig
from model.data import load_dataset
from model.describe import build_contract, spec_signature
from model.errors import ExportError, QualityGateError
from model.evaluate import (
    check_quality_gate,
    cross_validation,
    evaluate,
    positive_probabilities,
)
from model.export import check_parity, to_onnx_bytes
from model.figures import Scores, model_figures
from model.metadata import git_commit, library_versions, model_version, utc_now
from model.served import ServedModel, served_from_onnx
from model.spec import ModelSpec, load_factory
from model.stats import feature_stats
from model.train import Split, fit, split_dataset


@dataclass(frozen=True)
class Candidate:
    """A trained model that passed the gate and the export check, not yet written."""

    pipeline: Any  # the fitted scikit-learn classifier
    pipeline_bytes: bytes
    onnx_bytes: bytes
    figures: dict[str, bytes]  # PNG bytes by file name (model/figures.py)
    metadata: ArtifactMetadata
    split: Split
    spec: ModelSpec

    def served(self) -> ServedModel:
        """The candidate as the service would run it: its model.onnx, not yet written."""
        core = ArtifactCore.model_validate(self.metadata.model_dump())
        return served_from_onnx(self.onnx_bytes, core, "this run")


def train_candidate(spec: ModelSpec, config: TrainConfig) -> Candidate:
    """Train `spec`'s model; raise SpecError, DataError, QualityGateError or ExportError."""
    factory = load_factory(spec)  # an unimportable factory fails before the data is read
    signature = spec_signature(spec)
    dataset = load_dataset(spec, min_rows_per_class=config.min_rows_per_class)
    split = split_dataset(dataset, config)
    trained = fit(split, factory, config)
    if list(trained.pipeline.classes_) != list(spec.class_values):
        raise ExportError(
            f"the fitted model's classes {list(trained.pipeline.classes_)} are not the spec's "
            f"{list(spec.class_values)}"
        )
    holdout = evaluate(trained.pipeline, split.x_test, split.y_test, signature)
    cv = cross_validation(trained.pipeline, split.x_train, split.y_train, signature, config)

    failures = check_quality_gate(holdout, spec.gate)
    if failures:
        raise QualityGateError("quality gate failed: " + "; ".join(failures))

    stats = feature_stats(split.x_train, spec.features)
    model_contract = build_contract(spec, dataset, stats, trained.pipeline)
    onnx_bytes = to_onnx_bytes(trained.pipeline)
    parity = check_parity(trained.pipeline, onnx_bytes, dataset.features, spec.positive)
    pipeline_bytes = dump_pipeline(trained.pipeline)
    figures = holdout_figures(trained.pipeline, split, holdout, signature)

    created_at = utc_now()
    commit = git_commit()
    metadata = ArtifactMetadata(
        model_version=model_version(created_at, commit),
        created_at=created_at.isoformat().replace("+00:00", "Z"),
        git_commit=commit,
        contract=model_contract,
        data=DataInfo(
            file=dataset.path.name,
            sha256=dataset.sha256,
            rows=dataset.rows,
            class_counts=dataset.class_counts(),
            duplicates_removed=split.duplicates_removed,
            unique_rows=dataset.rows - split.duplicates_removed,
            train_rows=len(split.y_train),
            test_rows=len(split.y_test),
            split="exact duplicates removed, then stratified holdout",
        ),
        feature_stats=stats,
        hyperparameters={
            "estimator": spec.estimator.factory,
            # scikit-learn's repr: the estimator's own parameters where they differ from its
            # defaults, as fitted (the best of the search).
            "fitted": repr(trained.pipeline),
            "param_grid": _jsonable(trained.param_grid),
            "best_params": _jsonable(trained.best_params),
            "search_score_neg_log_loss": trained.search_score,
            **{key: value for key, value in asdict(config).items() if not key.startswith("min_")},
        },
        quality_gate=QualityGate(
            min_accuracy=spec.gate.min_accuracy, min_roc_auc=spec.gate.min_roc_auc
        ),
        metrics=Metrics(holdout=holdout, cv=cv),
        onnx=OnnxInfo(
            input=ONNX_INPUT,
            label_output=ONNX_LABEL_OUTPUT,
            probability_output=ONNX_PROBABILITY_OUTPUT,
            opset=ONNX_TARGET_OPSET,
            parity=parity,
        ),
        versions=library_versions(),
        files={
            PIPELINE_FILE: contract.sha256_bytes(pipeline_bytes),
            ONNX_FILE: contract.sha256_bytes(onnx_bytes),
            **{name: contract.sha256_bytes(data) for name, data in figures.items()},
        },
    )
    return Candidate(trained.pipeline, pipeline_bytes, onnx_bytes, figures, metadata, split, spec)


def _jsonable(value: Any) -> Any:
    """`value` as JSON can hold it: what JSON cannot (an estimator in a grid) as its repr."""
    return json.loads(json.dumps(value, default=repr))


def holdout_figures(
    model: Any, split: Split, holdout: dict[str, Any], signature: Signature
) -> dict[str, bytes]:
    """ROC, calibration and confusion matrix of the holdout rows the metrics are computed on."""
    scores = Scores(
        name="this model",
        labels=(split.y_test == signature.positive_class).astype(np.int64),
        positive=positive_probabilities(model, split.x_test, signature),
    )
    return model_figures(scores, holdout["confusion_matrix"], [c.name for c in signature.classes])


def write_candidate(candidate: Candidate, out_dir: Path) -> None:
    """Write the candidate's artifact directory atomically (the contract's write)."""
    contract.write_artifact(
        out_dir,
        candidate.metadata,
        {
            PIPELINE_FILE: candidate.pipeline_bytes,
            ONNX_FILE: candidate.onnx_bytes,
            **candidate.figures,
        },
        render_model_card(candidate.metadata, candidate.spec.card),
    )


def train_artifact(spec: ModelSpec, out_dir: Path, config: TrainConfig) -> ArtifactMetadata:
    """Train `spec`'s model and write the artifact to `out_dir`; return its metadata.

    Raises SpecError, DataError, QualityGateError or ExportError before anything is written.
    """
    candidate = train_candidate(spec, config)
    write_candidate(candidate, out_dir)
    return candidate.metadata
