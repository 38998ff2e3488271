"""Request and response shapes; they are also what /docs shows."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, with_config
from pydantic.config import JsonDict
from typing_extensions import TypedDict

GENUINE_EXAMPLE: JsonDict = {
    "variance": 3.6216,
    "skewness": 8.6661,
    "curtosis": -2.8073,
    "entropy": -0.44699,
}
FORGED_EXAMPLE: JsonDict = {
    "variance": -1.3971,
    "skewness": 3.3191,
    "curtosis": -1.3927,
    "entropy": -1.9948,
}


# A TypedDict rather than a BaseModel: validating raw JSON bytes into plain dicts is the
# cheapest path through pydantic-core, and /predict/batch validates up to 10,000 of them.
# strict: no "1.5" strings or booleans; allow_inf_nan=False: NaN, Infinity and 1e400 are refused.
@with_config(
    ConfigDict(
        strict=True,
        extra="forbid",
        allow_inf_nan=False,
        title="Note",
        json_schema_extra={"examples": [GENUINE_EXAMPLE]},
    )
)
class Note(TypedDict):
    """Four statistics of the wavelet-transformed image of a banknote."""

    variance: Annotated[float, Field(description="Variance of the wavelet-transformed image.")]
    skewness: Annotated[float, Field(description="Skewness of the wavelet-transformed image.")]
    curtosis: Annotated[float, Field(description="Curtosis of the wavelet-transformed image.")]
    entropy: Annotated[float, Field(description="Entropy of the image.")]


NOTE_ADAPTER: TypeAdapter[Note] = TypeAdapter(Note)


def batch_adapter(max_rows: int) -> TypeAdapter[list[Note]]:
    """Validator for a JSON list of 1..max_rows notes."""
    return TypeAdapter(Annotated[list[Note], Field(min_length=1, max_length=max_rows)])


ClassName = Literal["genuine", "forged"]
ClassLabel = Literal["Goed bankbiljet", "Vals bankbiljet"]


class PredictionItem(BaseModel):
    """The model's answer for one note."""

    prediction: ClassName = Field(description="Predicted class: genuine (0) or forged (1).")
    label: ClassLabel = Field(description="The Dutch label the original service answered.")
    probability_forged: float = Field(ge=0.0, le=1.0, description="Calibrated P(forged).")


class Prediction(PredictionItem):
    """Answer of POST /predict."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "prediction": "genuine",
                    "label": "Goed bankbiljet",
                    "probability_forged": 0.0017,
                    "model_version": "20261126T041500Z-3856aec",
                }
            ]
        }
    )
    model_version: str = Field(description="Version of the model that answered.")


class BatchPrediction(BaseModel):
    """Answer of POST /predict/batch: one item per note, in request order."""

    model_version: str
    count: int = Field(ge=1)
    predictions: list[PredictionItem]


class FieldError(BaseModel):
    """One problem with the request: where it is and what is wrong."""

    loc: list[str | int] = Field(description='Location, e.g. ["body", "variance"].')
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """Every error answer. `detail` names the field and the problem for client errors."""

    detail: str | list[FieldError]
    request_id: str | None = None
    errors_total: int | None = Field(None, description="Set when `detail` was shortened.")


class Status(BaseModel):
    """Answer of /health and /ready."""

    status: Literal["ok", "ready", "not ready"]
    model_version: str | None = None


class Message(BaseModel):
    """Answer of GET /."""

    message: Literal["FastAPI zegt Hallo Wereld"]


class ClassOut(BaseModel):
    """One class of the label convention."""

    value: int
    name: ClassName
    label: ClassLabel


class ModelInfo(BaseModel):
    """What is being served: version, provenance, quality and label convention."""

    model_version: str
    created_at: str
    git_commit: str | None
    features: list[str]
    classes: list[ClassOut]
    data_sha256: str | None
    data_rows: int | None
    onnx_sha256: str
    metrics: dict[str, Any]
