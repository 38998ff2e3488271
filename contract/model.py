"""What one model takes and answers: its name, features, classes, examples and API words.

Training builds a `ModelContract` from the model spec (model/specs/*.toml), the data and the
fitted model, and records it in metadata.json; the API builds its request and response schemas
from it, batch scoring reads its columns from it, the smoke test its examples. Nothing else in
the code knows a model's features or classes.

`Signature` is the part two models must share for their scores to be compared on the same rows
(`python -m model compare`): the name, the feature names in order, the classes and the positive
class. Every comparable artifact format yields one.

Binary classification only: exactly two classes, with integer values. Serving reports the
probability of the positive class, as `probability_<its name>`.
"""

from __future__ import annotations

import math
from typing import Annotated, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

# The model's name: image labels, the prefix of its Prometheus series, the inference protocols'
# model name. Prometheus metric names allow [a-zA-Z_:][a-zA-Z0-9_:]*; lower case keeps it one
# spelling everywhere.
MODEL_NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,39}$"
# Feature and class names become JSON fields (`probability_<class>`), CSV columns and
# Prometheus label values: identifiers, so they need no quoting anywhere.
FIELD_NAME_PATTERN: Final = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"

ModelName = Annotated[str, StringConstraints(pattern=MODEL_NAME_PATTERN)]
FieldName = Annotated[str, StringConstraints(pattern=FIELD_NAME_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1)]


def fail(reason: str) -> PydanticCustomError:
    """A validation error whose message is `reason` (braces in it are never a template)."""
    return PydanticCustomError("contract", "{reason}", {"reason": reason})


class Frozen(BaseModel):
    """Immutable, and no field this format does not define."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ClassInfo(Frozen):
    """One output class: its value in the data and the model, its API name, its label."""

    value: StrictInt
    name: FieldName
    label: Text


def check_features(names: tuple[str, ...]) -> None:
    """At least one feature, no name twice."""
    if not names:
        raise fail("a model needs at least one feature")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise fail(f"feature names must be unique; repeated: {', '.join(repeated)}")


def check_classes(classes: tuple[ClassInfo, ...], positive: int) -> None:
    """Two classes in ascending value order, distinct names, and the positive one among them."""
    if len(classes) != 2:
        raise fail(
            f"binary classification only: exactly 2 classes, not {len(classes)} "
            f"({', '.join(c.name for c in classes) or 'none'})"
        )
    first, second = classes
    if first.value >= second.value:
        raise fail(f"classes must be in ascending value order, got {first.value}, {second.value}")
    if first.name == second.name:
        raise fail(f"the two classes share the name {first.name!r}")
    if positive not in (first.value, second.value):
        raise fail(f"positive class {positive} is not one of the class values")


class Signature(Frozen):
    """What must match for two models to be scored on the same rows and compared."""

    name: ModelName
    features: tuple[FieldName, ...]
    classes: tuple[ClassInfo, ...]
    positive_class: StrictInt

    @model_validator(mode="after")
    def _consistent(self) -> Signature:
        check_features(self.features)
        check_classes(self.classes, self.positive_class)
        return self

    @property
    def positive_index(self) -> int:
        """The positive class's column in the model's probabilities (class-value order)."""
        return [c.value for c in self.classes].index(self.positive_class)

    @property
    def positive(self) -> ClassInfo:
        """The class whose probability is reported."""
        return self.classes[self.positive_index]

    @property
    def probability_field(self) -> str:
        """The answer's probability field: `probability_<positive class name>`."""
        return f"probability_{self.positive.name}"

    def differences(self, other: Signature) -> dict[str, tuple[str, str]]:
        """What differs from `other`: {"features": (this one's, other's), ...}; empty if none."""

        def classes(signature: Signature) -> str:
            return ", ".join(f"{c.value} = {c.name} ({c.label})" for c in signature.classes)

        shown = {
            "name": (self.name, other.name),
            "features": (", ".join(self.features), ", ".join(other.features)),
            "classes": (classes(self), classes(other)),
            "positive class": (str(self.positive_class), str(other.positive_class)),
        }
        return {what: pair for what, pair in shown.items() if pair[0] != pair[1]}


class FeatureInfo(Frozen):
    """One input feature as /docs shows it."""

    name: FieldName
    description: Text
    unit: Text | None = None


class Example(Frozen):
    """A row of the training data, of a known class, that the trained model classifies right."""

    class_value: StrictInt
    line: int = Field(ge=1, description="Its line in the data file.")
    values: dict[str, float]
    probability: float = Field(ge=0, le=1, description="P(positive class) by the fitted model.")


class ApiText(Frozen):
    """The model's own words in the HTTP API (/docs, OpenAPI)."""

    title: Text
    description: Text
    predict_summary: Text
    predict_description: Text
    batch_summary: Text
    row: Text  # what one input row is called ("note")
    rows: Text  # and several ("notes")
    row_description: Text
    label_description: Text
    probability_description: Text


class ModelContract(Frozen):
    """The whole contract of one model, as training records it and serving reads it."""

    name: ModelName
    features: tuple[FeatureInfo, ...]
    classes: tuple[ClassInfo, ...]
    positive_class: StrictInt
    examples: tuple[Example, ...]
    api: ApiText

    @model_validator(mode="after")
    def _consistent(self) -> ModelContract:
        check_features(self.feature_names)
        check_classes(self.classes, self.positive_class)
        values = tuple(c.value for c in self.classes)
        if tuple(e.class_value for e in self.examples) != values:
            raise fail(f"examples must give one row per class, in class order {list(values)}")
        for example in self.examples:
            if tuple(example.values) != self.feature_names:
                raise fail(
                    f"example of class {example.class_value} must give the features "
                    f"{list(self.feature_names)}, in that order"
                )
            if not all(math.isfinite(v) for v in example.values.values()):
                raise fail(f"example of class {example.class_value} has a non-finite value")
        return self

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The input columns, in the model's order."""
        return tuple(f.name for f in self.features)

    def signature(self) -> Signature:
        """The part that decides whether two models can be compared."""
        return Signature(
            name=self.name,
            features=self.feature_names,
            classes=self.classes,
            positive_class=self.positive_class,
        )
