"""The artifact's fixed names and the metadata.json schema, as pydantic models.

Training writes an `ArtifactMetadata`; serving reads one back; deployment reads only its
`ArtifactHeader`.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

# Bump on any change a reader of the previous format would misread, and say what changed:
#   1: the first format.
FORMAT_VERSION: Final = 1

METADATA_FILE: Final = "metadata.json"
ONNX_FILE: Final = "model.onnx"  # what serving runs
PIPELINE_FILE: Final = "model.joblib"  # training's fitted pipeline; never loaded by the service
MODEL_CARD_FILE: Final = "MODEL_CARD.md"

# The model's input columns, in order: the UCI file's columns and the API's request fields.
FEATURES: Final = ("variance", "skewness", "curtosis", "entropy")

# The ONNX graph's names as training exports them: float32 [N, 4] in; label [N] and
# probabilities [N, 2] (columns in class-value order) out.
ONNX_INPUT: Final = "features"
ONNX_LABEL_OUTPUT: Final = "label"
ONNX_PROBABILITY_OUTPUT: Final = "probabilities"

# Used as an image tag and a build argument: the Docker tag alphabet, at most 128 characters.
MODEL_VERSION_PATTERN: Final = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


def _fail(reason: str) -> PydanticCustomError:
    # The reason travels as context, so braces in it are never read as a format template.
    return PydanticCustomError("contract", "{reason}", {"reason": reason})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClassInfo(_Frozen):
    """One output class: its value in the data and the model, its API name, its Dutch label."""

    value: StrictInt
    name: str
    label: str


# UCI does not document which class is forged; this is the majority reading and the original
# project's (data/README.md).
GENUINE: Final = ClassInfo(value=0, name="genuine", label="Goed bankbiljet")
FORGED: Final = ClassInfo(value=1, name="forged", label="Vals bankbiljet")
CLASSES: Final = (GENUINE, FORGED)
CLASS_NAMES: Final[dict[int, str]] = {c.value: c.name for c in CLASSES}
CLASS_LABELS: Final[dict[int, str]] = {c.value: c.label for c in CLASSES}


def _check_current_format(version: int) -> int:
    if version != FORMAT_VERSION:
        raise _fail(f"format_version {version}; this schema is format_version {FORMAT_VERSION}")
    return version


def _check_features(features: tuple[str, ...]) -> tuple[str, ...]:
    if features != FEATURES:
        raise _fail(f"features {list(features)} differ from the contract's {list(FEATURES)}")
    return features


def _check_classes(classes: tuple[ClassInfo, ...]) -> tuple[ClassInfo, ...]:
    if classes != CLASSES:
        shown = ", ".join(f'{c.value} = {c.name} "{c.label}"' for c in classes)
        raise _fail(
            f"classes ({shown}) break the label convention "
            '(0 = genuine "Goed bankbiljet", 1 = forged "Vals bankbiljet")'
        )
    return classes


def _check_files(files: dict[str, str]) -> dict[str, str]:
    if ONNX_FILE not in files:
        raise _fail(f"no sha256 recorded for {ONNX_FILE}")
    return files


CurrentFormat = Annotated[StrictInt, AfterValidator(_check_current_format)]
ModelVersion = Annotated[str, StringConstraints(pattern=MODEL_VERSION_PATTERN)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Features = Annotated[tuple[str, ...], AfterValidator(_check_features)]
Classes = Annotated[tuple[ClassInfo, ...], AfterValidator(_check_classes)]
Files = Annotated[dict[str, Sha256], AfterValidator(_check_files)]
Name = Annotated[str, StringConstraints(min_length=1)]


class ArtifactHeader(BaseModel):
    """The two fields every format has: enough to tag and deploy an artifact."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format_version: StrictInt
    model_version: ModelVersion


class OnnxInfo(_Frozen):
    """The ONNX export: input and output names, opsets, and the parity check it passed."""

    input: Name
    label_output: Name
    probability_output: Name
    opset: dict[str, int]
    parity_rows: int = Field(ge=1)
    parity_tolerance: float = Field(gt=0)
    max_probability_gap: float = Field(ge=0)


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
    features: Features = FEATURES
    classes: Classes = CLASSES
    data: DataInfo
    hyperparameters: dict[str, Any]
    quality_gate: QualityGate
    metrics: Metrics
    onnx: OnnxInfo
    versions: dict[str, str]
    files: Files
