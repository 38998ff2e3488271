"""Request and response shapes; they are also what /docs shows.

The model's own shapes (the request row, the answers, /model) are built at start-up from the
artifact's contract (`build_schemas`): its feature names in order with their descriptions, its
class names and labels, `probability_<positive class>`, its examples. The rest is the same for
every model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model, with_config
from pydantic.config import JsonDict
from typing_extensions import TypedDict

from contract import ModelContract

# What the response examples show as a model version: the format, not a real one.
EXAMPLE_MODEL_VERSION = "20261126T041500Z-3856aec"


class Status(BaseModel):
    """Answer of /health and /ready."""

    status: Literal["ok", "ready", "not ready", "shutting down"]
    model_version: str | None = None


class Message(BaseModel):
    """Answer of GET /."""

    message: Literal["FastAPI zegt Hallo Wereld"]


@dataclass(frozen=True)
class Schemas:
    """One model's request and response shapes."""

    row: Any  # the TypedDict of one input row
    row_adapter: TypeAdapter[Any]
    row_schema: dict[str, Any]  # its JSON schema, for the hand-declared request bodies
    examples: dict[str, JsonDict]  # class name -> a row of that class
    prediction_item: type[BaseModel]
    prediction: type[BaseModel]
    batch_prediction: type[BaseModel]
    error_response: type[BaseModel]
    model_info: type[BaseModel]

    def batch_adapter(self, max_rows: int) -> TypeAdapter[Any]:
        """Validator for a JSON list of 1..max_rows rows."""
        rows: Any = Annotated[list[self.row], Field(min_length=1, max_length=max_rows)]  # type: ignore[name-defined]
        return TypeAdapter(rows)


def _field_description(description: str, unit: str | None) -> str:
    return description if unit is None else f"{description} Unit: {unit}."


def _row_type(model: ModelContract, example: JsonDict) -> Any:
    # A TypedDict rather than a BaseModel: validating raw JSON bytes into plain dicts is the
    # cheapest path through pydantic-core, and /predict/batch validates up to 10,000 of them.
    # strict: no "1.5" strings or booleans; allow_inf_nan=False: NaN, Infinity and 1e400 are
    # refused.
    fields = {
        f.name: Annotated[float, Field(description=_field_description(f.description, f.unit))]
        for f in model.features
    }
    row = TypedDict("Row", fields)  # type: ignore[misc]
    row.__doc__ = model.api.row_description
    config = ConfigDict(
        strict=True,
        extra="forbid",
        allow_inf_nan=False,
        title=model.api.row[:1].upper() + model.api.row[1:],
        json_schema_extra={"examples": [example]},
    )
    return with_config(config)(row)


def build_schemas(model: ModelContract) -> Schemas:
    """The request and response shapes of the model whose contract is `model`."""
    names = tuple(c.name for c in model.classes)
    labels = tuple(c.label for c in model.classes)
    class_name = Literal[names]  # type: ignore[valid-type]
    class_label = Literal[labels]  # type: ignore[valid-type]
    signature = model.signature()
    examples: dict[str, JsonDict] = {
        info.name: dict(example.values)
        for info, example in zip(model.classes, model.examples, strict=True)
    }
    row = _row_type(model, examples[names[0]])
    answer: dict[str, Any] = {
        "prediction": (
            class_name,
            Field(
                description="Predicted class: "
                + " or ".join(f"{c.name} ({c.value})" for c in model.classes)
                + "."
            ),
        ),
        "label": (class_label, Field(description=model.api.label_description)),
        signature.probability_field: (
            float,
            Field(ge=0.0, le=1.0, description=model.api.probability_description),
        ),
    }
    prediction_item = create_model(
        "PredictionItem", __doc__=f"The model's answer for one {model.api.row}.", **answer
    )
    first = model.examples[0]
    prediction = create_model(
        "Prediction",
        __doc__="Answer of POST /predict.",
        __config__=ConfigDict(
            json_schema_extra={
                "examples": [
                    {
                        "prediction": names[0],
                        "label": labels[0],
                        signature.probability_field: round(first.probability, 4),
                        "model_version": EXAMPLE_MODEL_VERSION,
                    }
                ]
            }
        ),
        **answer,
        model_version=(str, Field(description="Version of the model that answered.")),
    )
    batch_prediction = create_model(
        "BatchPrediction",
        __doc__=f"Answer of POST /predict/batch: one item per {model.api.row}, in request order.",
        model_version=(str, ...),
        count=(int, Field(ge=1)),
        predictions=(list[prediction_item], ...),  # type: ignore[valid-type]
    )
    field_error = create_model(
        "FieldError",
        __doc__="One problem with the request: where it is and what is wrong.",
        loc=(
            list[str | int],
            Field(description=f'Location, e.g. ["body", "{model.features[0].name}"].'),
        ),
        msg=(str, ...),
        type=(str, ...),
    )
    error_response = create_model(
        "ErrorResponse",
        __doc__="Every error answer. `detail` names the field and the problem for client errors.",
        detail=(str | list[field_error], ...),  # type: ignore[valid-type,arg-type]
        request_id=(str | None, None),
        errors_total=(int | None, Field(None, description="Set when `detail` was shortened.")),
    )
    class_out = create_model(
        "ClassOut",
        __doc__="One class of the label convention.",
        value=(int, ...),
        name=(class_name, ...),
        label=(class_label, ...),
    )
    example_out = create_model(
        "ExampleOut",
        __doc__=f"A {model.api.row} of the training data that the model classifies correctly.",
        prediction=(class_name, Field(description="Its class, as /predict answers it.")),
        line=(int, Field(description="Its line in the training data file.")),
        features=(dict[str, float], Field(description="The request body that scores it.")),
    )
    model_info = create_model(
        "ModelInfo",
        __doc__="What is being served: version, provenance, quality and label convention.",
        model_version=(str, ...),
        name=(str, Field(description="The model's name, from its spec.")),
        created_at=(str, ...),
        git_commit=(str | None, ...),
        features=(list[str], ...),
        classes=(list[class_out], ...),  # type: ignore[valid-type]
        positive_class=(int, Field(description="The class whose probability is answered.")),
        examples=(list[example_out], Field(description="One per class.")),  # type: ignore[valid-type]
        data_sha256=(str | None, ...),
        data_rows=(int | None, ...),
        onnx_sha256=(str, ...),
        metrics=(dict[str, Any], ...),
    )
    return Schemas(
        row=row,
        row_adapter=TypeAdapter(row),
        row_schema=TypeAdapter(row).json_schema(),
        examples=examples,
        prediction_item=prediction_item,
        prediction=prediction,
        batch_prediction=batch_prediction,
        error_response=error_response,
        model_info=model_info,
    )
