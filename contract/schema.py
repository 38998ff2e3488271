"""The artifact's fixed names and the metadata.json schema, as pydantic models.

Training writes an `ArtifactMetadata`; serving reads one back; deployment reads only its
`ArtifactHeader`; comparing models reads the `ArtifactCore` that every comparable format shares.
What is specific to one model (features, classes, examples, its API words) is its
`ModelContract` (contract/model.py), recorded inside the metadata.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    model_validator,
)

from contract.model import Frozen as _Frozen
from contract.model import ModelContract, ModelName, Signature
from contract.model import fail as _fail

# Bump on any change a reader of the previous format would misread, and say what changed:
#   1: the first format.
#   2: adds `feature_stats` (training ranges and quantiles per feature) and replaces the single
#      ONNX parity tolerance by a per-row float32 error bound (`onnx.parity`).
#   3: the model's whole contract in `contract` (name, features with descriptions and units,
#      classes, the positive class, one example per class, its API words), built from a model
#      spec; the top-level `features` and `classes` move into it. Formats 1 and 2 could hold
#      only the banknote model's features and classes (the schema fixed them).
FORMAT_VERSION: Final = 3
# Formats whose model.onnx can still be evaluated (`python -m model compare`): the champion
# serving today may predate the newest format.
COMPARABLE_FORMATS: Final = (1, 2, 3)
# What formats 1 and 2 did not record because only one model could be written in them: its
# name, and that the probability they reported was P(class 1).
LEGACY_MODEL_NAME: Final = "banknote"
LEGACY_POSITIVE_CLASS: Final = 1

METADATA_FILE: Final = "metadata.json"
ONNX_FILE: Final = "model.onnx"  # what serving runs
PIPELINE_FILE: Final = "model.joblib"  # training's fitted pipeline; never loaded by the service
MODEL_CARD_FILE: Final = "MODEL_CARD.md"

# The ONNX graph's names as training exports them: float32 [N, features] in; label [N] and
# probabilities [N, 2] (columns in class-value order) out.
ONNX_INPUT: Final = "features"
ONNX_LABEL_OUTPUT: Final = "label"
ONNX_PROBABILITY_OUTPUT: Final = "probabilities"

# Training-data quantiles recorded per feature. Serving uses them as histogram bucket bounds,
# so under no drift each bucket's expected share of requests is known in advance (1 %, 4 %, 5 %,
# 15 %, 25 %, 25 %, 15 %, 5 %, 4 %, 1 % above the last bound). The tails are finer than the
# middle because a shifted input shows there first; nine bounds per feature keep the number of
# series low, and PromQL's histogram_quantile() can then estimate serving quantiles to set
# against these.
QUANTILE_LEVELS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
QUANTILE_KEYS: Final = tuple(f"{level:g}" for level in QUANTILE_LEVELS)

# Used as an image tag and a build argument: the Docker tag alphabet, at most 128 characters.
MODEL_VERSION_PATTERN: Final = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


def _check_current_format(version: int) -> int:
    if version != FORMAT_VERSION:
        raise _fail(f"format_version {version}; this schema is format_version {FORMAT_VERSION}")
    return version


def _check_files(files: dict[str, str]) -> dict[str, str]:
    if ONNX_FILE not in files:
        raise _fail(f"no sha256 recorded for {ONNX_FILE}")
    return files


CurrentFormat = Annotated[StrictInt, AfterValidator(_check_current_format)]
ModelVersion = Annotated[str, StringConstraints(pattern=MODEL_VERSION_PATTERN)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Files = Annotated[dict[str, Sha256], AfterValidator(_check_files)]
Name = Annotated[str, StringConstraints(min_length=1)]


class _ContractName(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: ModelName


class ArtifactHeader(BaseModel):
    """What deployment reads: enough to tag, label and deploy an artifact."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format_version: StrictInt
    model_version: ModelVersion
    contract: _ContractName

    @property
    def model_name(self) -> str:
        """The model's name (its spec's `name`)."""
        return self.contract.name


class OnnxIO(BaseModel):
    """The ONNX graph's input and output names (every format records them)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    input: Name
    label_output: Name
    probability_output: Name


class ArtifactCore(BaseModel):
    """What every comparable format shares: enough to verify and run model.onnx, to tell
    whether two models can be compared (`contract`, their signatures), and to rebuild the
    holdout split it was scored on (seed and test size in `hyperparameters`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format_version: StrictInt
    model_version: ModelVersion
    created_at: str
    contract: Signature
    hyperparameters: dict[str, Any]
    onnx: OnnxIO
    files: Files

    @model_validator(mode="before")
    @classmethod
    def _signature_of_any_format(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        if raw.get("format_version") in (1, 2):
            # The fields formats 1 and 2 had at the top level; what they could not record is
            # the banknote model's.
            legacy = {
                "name": LEGACY_MODEL_NAME,
                "features": raw.get("features"),
                "classes": raw.get("classes"),
                "positive_class": LEGACY_POSITIVE_CLASS,
            }
            return {**raw, "contract": {k: v for k, v in legacy.items() if v is not None}}
        model = raw.get("contract")
        if isinstance(model, dict) and isinstance(model.get("features"), list | tuple):
            # The signature's features are the names of the contract's feature objects.
            names = [f.get("name") if isinstance(f, dict) else f for f in model["features"]]
            keep = ("name", "classes", "positive_class")
            return {
                **raw,
                "contract": {"features": names} | {k: model[k] for k in keep if k in model},
            }
        return raw


class ParityReport(_Frozen):
    """How training proved model.onnx answers like the fitted pipeline (model/parity.py)."""

    rows: int = Field(ge=1)
    rule: str
    max_probability_gap: float = Field(ge=0)
    max_tolerance: float = Field(gt=0)
    # Most rows' bound: the largest is a few rows' (a row at a tree split carries the jump).
    median_tolerance: float = Field(gt=0)
    # The largest gap as a share of its own row's tolerance: how close the export came to failing.
    max_gap_to_tolerance: float = Field(ge=0, le=1)
    # Rows whose probability is within its tolerance of 0.5, where float32 may pick the other label.
    undecidable_rows: int = Field(ge=0)


class OnnxInfo(OnnxIO):
    """The ONNX export: names, opsets, and the parity check it passed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    opset: dict[str, int]
    parity: ParityReport


class DataInfo(_Frozen):
    """The training data file and how it was split."""

    file: str
    sha256: Sha256
    rows: int = Field(ge=1)
    class_counts: dict[str, int]
    duplicates_removed: int = Field(ge=0)
    unique_rows: int = Field(ge=1)
    train_rows: int = Field(ge=1)
    test_rows: int = Field(ge=1)
    split: str


class FeatureStats(_Frozen):
    """One feature's range and quantiles on the training rows."""

    min: float
    max: float
    quantiles: dict[str, float]

    @model_validator(mode="after")
    def _ordered(self) -> FeatureStats:
        if tuple(self.quantiles) != QUANTILE_KEYS:
            raise _fail(f"quantiles must be given at {list(QUANTILE_KEYS)}, in that order")
        values = [self.min, *self.quantiles.values(), self.max]
        if not all(math.isfinite(v) for v in values):
            raise _fail("min, max and quantiles must be finite")
        if any(low > high for low, high in itertools.pairwise(values)):
            raise _fail("min <= quantiles (ascending) <= max does not hold")
        return self

    def bucket_bounds(self) -> tuple[float, ...]:
        """The quantiles as strictly increasing histogram bucket bounds (duplicates dropped)."""
        return tuple(sorted(set(self.quantiles.values())))


class FeatureStatsBlock(_Frozen):
    """Per-feature statistics of the rows the model was fitted on (every feature, in order)."""

    rows: int = Field(ge=1)
    source: str
    features: dict[str, FeatureStats]


class QualityGate(_Frozen):
    """The absolute thresholds the holdout metrics passed."""

    min_accuracy: float
    min_roc_auc: float


class Metrics(_Frozen):
    """Holdout metrics and k-fold cross-validation means and standard deviations."""

    holdout: dict[str, Any]
    cv: dict[str, Any]


class ArtifactMetadata(_Frozen):
    """metadata.json in the current format: everything known about one trained model."""

    format_version: CurrentFormat = FORMAT_VERSION
    model_version: ModelVersion
    created_at: str
    git_commit: str | None
    contract: ModelContract
    data: DataInfo
    feature_stats: FeatureStatsBlock
    hyperparameters: dict[str, Any]
    quality_gate: QualityGate
    metrics: Metrics
    onnx: OnnxInfo
    versions: dict[str, str]
    files: Files

    @model_validator(mode="after")
    def _stats_cover_the_features(self) -> ArtifactMetadata:
        features = self.contract.feature_names
        if tuple(self.feature_stats.features) != features:
            raise _fail(f"feature_stats must cover exactly {list(features)}, in that order")
        return self
