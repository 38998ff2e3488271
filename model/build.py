"""One training run end to end: validate, split, fit, evaluate, gate, export, then write.

`train_candidate` does everything but the write, so a caller can judge the candidate first
(against the serving champion, `python -m model train --champion`) and write it only then.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from sklearn.pipeline import Pipeline

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
)
from model.artifact import dump_pipeline
from model.card import render_model_card
from model.config import ONNX_TARGET_OPSET, TrainConfig
from model.data import load_dataset
from model.errors import QualityGateError
from model.evaluate import check_quality_gate, cross_validation, evaluate
from model.export import check_parity, to_onnx_bytes
from model.metadata import git_commit, library_versions, model_version, utc_now
from model.served import ServedModel, served_from_onnx
from model.stats import feature_stats
from model.train import Split, fit, split_dataset


@dataclass(frozen=True)
class Candidate:
    """A trained model that passed the gate and the export check, not yet written."""

    pipeline: Pipeline
    pipeline_bytes: bytes
    onnx_bytes: bytes
    metadata: ArtifactMetadata
    split: Split

    def served(self) -> ServedModel:
        """The candidate as the service would run it: its model.onnx, not yet written."""
        core = ArtifactCore.model_validate(self.metadata.model_dump())
        return served_from_onnx(self.onnx_bytes, core, "this run")


def train_candidate(data_path: Path, config: TrainConfig) -> Candidate:
    """Train on `data_path`; raise DataError, QualityGateError or ExportError on failure."""
    dataset = load_dataset(data_path, min_rows_per_class=config.min_rows_per_class)
    split = split_dataset(dataset, config)
    trained = fit(split, config)
    holdout = evaluate(trained.pipeline, split.x_test, split.y_test)
    cv = cross_validation(trained.pipeline, split.x_train, split.y_train, config)

    failures = check_quality_gate(holdout, config)
    if failures:
        raise QualityGateError("quality gate failed: " + "; ".join(failures))

    onnx_bytes = to_onnx_bytes(trained.pipeline)
    parity = check_parity(trained.pipeline, onnx_bytes, dataset.features)
    pipeline_bytes = dump_pipeline(trained.pipeline)

    created_at = utc_now()
    commit = git_commit()
    metadata = ArtifactMetadata(
        model_version=model_version(created_at, commit),
        created_at=created_at.isoformat().replace("+00:00", "Z"),
        git_commit=commit,
        data=DataInfo(
            file=data_path.name,
            sha256=dataset.sha256,
            rows=dataset.rows,
            class_counts=dataset.class_counts(),
            duplicates_removed=split.duplicates_removed,
            unique_rows=dataset.rows - split.duplicates_removed,
            train_rows=len(split.y_train),
            test_rows=len(split.y_test),
            split="exact duplicates removed, then stratified holdout",
        ),
        feature_stats=feature_stats(split.x_train),
        hyperparameters={
            **trained.best_params,
            "kernel": "rbf",
            "calibration": "sigmoid",
            "search_score_neg_log_loss": trained.search_score,
            **{key: value for key, value in asdict(config).items() if not key.startswith("min_")},
        },
        quality_gate=QualityGate(min_accuracy=config.min_accuracy, min_roc_auc=config.min_roc_auc),
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
        },
    )
    return Candidate(trained.pipeline, pipeline_bytes, onnx_bytes, metadata, split)


def write_candidate(candidate: Candidate, out_dir: Path) -> None:
    """Write the candidate's artifact directory atomically (the contract's write)."""
    contract.write_artifact(
        out_dir,
        candidate.metadata,
        {PIPELINE_FILE: candidate.pipeline_bytes, ONNX_FILE: candidate.onnx_bytes},
        render_model_card(candidate.metadata),
    )


def train_artifact(data_path: Path, out_dir: Path, config: TrainConfig) -> ArtifactMetadata:
    """Train on `data_path` and write the artifact to `out_dir`; return its metadata.

    Raises DataError, QualityGateError or ExportError before anything is written.
    """
    candidate = train_candidate(data_path, config)
    write_candidate(candidate, out_dir)
    return candidate.metadata
