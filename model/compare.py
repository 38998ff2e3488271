"""Champion vs challenger: both served models scored on the same holdout rows, then judged.

Only accuracy and log loss decide (tolerances in `CompareConfig`); ROC AUC, Brier score and the
confusion matrices are reported beside them for the reviewer. Two models whose signatures differ
(name, features, classes or positive class) cannot be scored on the same rows: that is a new
model contract, reported as such (`NewContract`) and never scored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from contract import Signature
from model.config import CompareConfig, TrainConfig
from model.data import load_dataset
from model.evaluate import classification_metrics
from model.served import ServedModel
from model.spec import ModelSpec
from model.train import split_dataset

# What the report shows for each model, in this order.
REPORTED_METRICS = ("accuracy", "roc_auc", "log_loss", "brier")
# A difference equal to a tolerance is within it, even after floating-point subtraction
# (1.0 - 0.995 is 0.0050000000000000044).
SLACK = 1e-12


@dataclass(frozen=True)
class Holdout:
    """The rows both models are scored on, and where they came from."""

    features: npt.NDArray[np.float64]
    labels: npt.NDArray[np.int64]
    data_file: str
    data_sha256: str
    seed: int
    test_size: float


@dataclass(frozen=True)
class Scored:
    """One model's identity, its metrics on the holdout, and its P(positive) for each row."""

    role: str
    model_version: str
    format_version: int
    source: str
    metrics: dict[str, Any]
    positive: npt.NDArray[np.float64]  # what the comparison figure and chart draw


@dataclass(frozen=True)
class Comparison:
    """The outcome: both sides, the rule applied, and why the challenger fails it (if it does)."""

    champion: Scored
    challenger: Scored
    holdout: Holdout
    signature: Signature  # both models'
    tolerances: CompareConfig
    reasons: dict[str, str]  # metric -> why the challenger fails on it
    accepted: bool

    @property
    def regression(self) -> bool:
        """The challenger is worse than the champion beyond the tolerances."""
        return bool(self.reasons)

    @property
    def verdict(self) -> str:
        """ "pass", "regression" or "regression accepted"."""
        if not self.regression:
            return "pass"
        return "regression accepted" if self.accepted else "regression"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready report (the pipeline puts it in job summaries and PR comments)."""
        return {
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "verdict": self.verdict,
            "regression": self.regression,
            "accepted": self.accepted,
            "reasons": list(self.reasons.values()),
            "failed_metrics": list(self.reasons),
            "holdout": {
                "rows": len(self.holdout.labels),
                "data_file": self.holdout.data_file,
                "data_sha256": self.holdout.data_sha256,
                "seed": self.holdout.seed,
                "test_size": self.holdout.test_size,
            },
            "tolerances": {
                **asdict(self.tolerances),
                "log_loss_allowance": self.tolerances.log_loss_allowance(
                    self.champion.metrics["log_loss"]
                ),
            },
            "champion": _side(self.champion),
            "challenger": _side(self.challenger),
        }


def comparison_png(comparison: Comparison) -> bytes:
    """Both models' ROC and calibration curves on the holdout rows, as one PNG."""
    from model.figures import Scores, comparison_figure  # matplotlib: only when drawing

    positive = comparison.signature.positive
    labels = (comparison.holdout.labels == positive.value).astype(np.int64)
    champion, challenger = comparison.champion, comparison.challenger
    return comparison_figure(
        Scores(f"champion {champion.model_version}", labels, champion.positive),
        Scores(f"challenger {challenger.model_version}", labels, challenger.positive),
        positive.name,
    )


def _side(scored: Scored) -> dict[str, Any]:
    return {
        "model_version": scored.model_version,
        "format_version": scored.format_version,
        "source": scored.source,
        "metrics": {
            **{key: scored.metrics[key] for key in REPORTED_METRICS},
            "confusion_matrix": scored.metrics["confusion_matrix"],
        },
    }


@dataclass(frozen=True)
class NewContract:
    """Two models that cannot be compared: their signatures differ."""

    champion: ServedModel
    challenger: ServedModel
    differences: dict[str, tuple[str, str]]  # what: (champion's, challenger's)
    accepted: bool

    @property
    def verdict(self) -> str:
        """ "new contract" or "new contract accepted"."""
        return "new contract accepted" if self.accepted else "new contract"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready report, shaped like `Comparison.to_dict` where the two overlap."""
        return {
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "verdict": self.verdict,
            "regression": False,
            "accepted": self.accepted,
            "reasons": [
                f"new model contract: {what} {old!r} vs {new!r}"
                for what, (old, new) in self.differences.items()
            ],
            "differences": {
                what: {"champion": old, "challenger": new}
                for what, (old, new) in self.differences.items()
            },
            "champion": _identity(self.champion),
            "challenger": _identity(self.challenger),
        }


def _identity(model: ServedModel) -> dict[str, Any]:
    return {
        "model_version": model.model_version,
        "format_version": model.format_version,
        "source": model.source,
        "signature": model.signature.model_dump(),
    }


def new_contract(
    champion: ServedModel, challenger: ServedModel, accepted: bool = False
) -> NewContract | None:
    """The differences between the two models' signatures, or None when they can be compared."""
    differences = champion.signature.differences(challenger.signature)
    return NewContract(champion, challenger, differences, accepted) if differences else None


def holdout_rows(spec: ModelSpec, seed: int, test_size: float, data: Path | None = None) -> Holdout:
    """The holdout split of the spec's data (or `data`, same layout): training's deduplication,
    stratification and seed."""
    dataset = load_dataset(spec, data)
    split = split_dataset(dataset, replace(TrainConfig(), seed=seed, test_size=test_size))
    return Holdout(split.x_test, split.y_test, dataset.path.name, dataset.sha256, seed, test_size)


def regression_reasons(
    champion: dict[str, Any], challenger: dict[str, Any], tolerances: CompareConfig
) -> dict[str, str]:
    """Per metric, why the challenger is worse than the champion beyond tolerance (if it is)."""
    reasons = {}
    drop = champion["accuracy"] - challenger["accuracy"]
    if drop > tolerances.max_accuracy_drop + SLACK:
        reasons["accuracy"] = (
            f"accuracy {challenger['accuracy']:.4f} vs {champion['accuracy']:.4f} "
            f"(down {drop:.4f}, allowed {tolerances.max_accuracy_drop:g})"
        )
    increase = challenger["log_loss"] - champion["log_loss"]
    allowance = tolerances.log_loss_allowance(champion["log_loss"])
    if increase > allowance + SLACK:
        reasons["log_loss"] = (
            f"log loss {challenger['log_loss']:.4f} vs {champion['log_loss']:.4f} "
            f"(up {increase:.4f}, allowed {allowance:.4f})"
        )
    return reasons


def score(model: ServedModel, role: str, holdout: Holdout) -> Scored:
    """`model`'s metrics on the holdout, computed from what model.onnx answers."""
    labels, p_positive = model.predict(holdout.features)
    metrics = classification_metrics(holdout.labels, labels, p_positive, model.signature)
    return Scored(
        role, model.model_version, model.format_version, model.source, metrics, p_positive
    )


def compare_models(
    champion: ServedModel,
    challenger: ServedModel,
    holdout: Holdout,
    tolerances: CompareConfig,
    accept_regression: bool = False,
) -> Comparison:
    """Score both models on the same rows and judge the challenger (same signatures only)."""
    if champion.signature != challenger.signature:
        raise ValueError("models with different signatures cannot be compared (new_contract)")
    scored_champion = score(champion, "champion", holdout)
    scored_challenger = score(challenger, "challenger", holdout)
    reasons = regression_reasons(scored_champion.metrics, scored_challenger.metrics, tolerances)
    return Comparison(
        scored_champion,
        scored_challenger,
        holdout,
        challenger.signature,
        tolerances,
        reasons,
        accept_regression,
    )
