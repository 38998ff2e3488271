"""The model spec: one TOML file that says everything specific to one model.

The banknote model is `model/specs/banknote.toml`; docs/adapt-your-model.md walks through
writing another. A spec names the data file and its layout, the features (in the model's input
order) with their descriptions and units, the target column, the two classes with their API
names and labels, the positive class, the estimator factory, the quality gate, and the model's
own words in the API and on the model card. Training turns it, the data and the fitted model into
the artifact's `ModelContract` (model/signature.py); nothing downstream reads the spec itself.

A relative `data` path is resolved from the directory of the spec file, as a Dockerfile's
COPY resolves from its context: the spec and its data move together, whatever directory a
command runs in.

Binary classification only: exactly two classes with integer values. A spec that breaks a rule
is refused with one line naming the file, the key and the problem (SpecError, exit code 1).
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

from contract import FIELD_NAME_PATTERN, MODEL_NAME_PATTERN
from model.errors import SpecError

FieldName = Annotated[str, StringConstraints(pattern=FIELD_NAME_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1)]
# module.path:function, as setuptools' entry points write it.
FACTORY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    # A misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClassSpec(_Strict):
    """One class: its name in the API (`prediction`) and its label (`label`)."""

    name: FieldName
    label: Text


class FeatureSpec(_Strict):
    """What /docs says about one feature; without a description, training derives one."""

    description: Text | None = None
    unit: Text | None = None


class EstimatorSpec(_Strict):
    """`factory(seed) -> (unfitted scikit-learn classifier, param_grid)`, importable."""

    factory: Annotated[str, StringConstraints(pattern=FACTORY_PATTERN)]


class GateSpec(_Strict):
    """The holdout scores a model must reach before an artifact is written (0 turns one off;
    above 1, nothing passes)."""

    min_accuracy: float = Field(ge=0, allow_inf_nan=False)
    min_roc_auc: float = Field(ge=0, allow_inf_nan=False)


class ApiSpec(_Strict):
    """The model's own words in the API; each has a default derived from the rest of the spec."""

    title: Text | None = None
    description: Text | None = None
    predict_summary: Text | None = None
    predict_description: Text | None = None
    batch_summary: Text | None = None
    row: Text | None = None
    rows: Text | None = None
    row_description: Text | None = None
    label_description: Text | None = None
    probability_description: Text | None = None


class CardSpec(_Strict):
    """The model card's prose: what only a person who knows the model and its data can say."""

    title: Text | None = None
    intended_use: Text | None = None
    data_source: Text | None = None
    label_convention: Text | None = None
    limits: Text | None = None


class ModelSpec(_Strict):
    """A validated model spec (the file's keys, with `data` resolved to a path)."""

    name: Annotated[str, StringConstraints(pattern=MODEL_NAME_PATTERN)]
    data: Path
    header: StrictBool = False
    features: tuple[FieldName, ...] = Field(min_length=1)
    target: Text
    positive: StrictInt
    classes: dict[int, ClassSpec]
    estimator: EstimatorSpec
    gate: GateSpec
    feature_info: dict[str, FeatureSpec] = Field(default_factory=dict)
    api: ApiSpec = ApiSpec()
    card: CardSpec = CardSpec()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(self.classes) != 2:
            shown = ", ".join(str(v) for v in self.classes) or "none"
            raise ValueError(
                f"key 'classes': binary classification only, so exactly 2 classes, "
                f"not {len(self.classes)} ({shown})"
            )
        names = [c.name for c in self.classes.values()]
        if len(set(names)) != len(names):
            raise ValueError(f"key 'classes': the two classes share the name {names[0]!r}")
        if self.positive not in self.classes:
            values = " or ".join(str(v) for v in sorted(self.classes))
            raise ValueError(f"key 'positive': {self.positive} is not a class value ({values})")
        repeated = sorted({f for f in self.features if self.features.count(f) > 1})
        if repeated:
            raise ValueError(f"key 'features': listed twice: {', '.join(repeated)}")
        if self.target in self.features:
            raise ValueError(f"key 'target': {self.target!r} is also a feature")
        unknown = sorted(set(self.feature_info) - set(self.features))
        if unknown:
            raise ValueError(f"key 'feature_info': not features: {', '.join(unknown)}")
        return self

    @property
    def class_values(self) -> tuple[int, ...]:
        """The class values in ascending order (the model's probability columns)."""
        return tuple(sorted(self.classes))

    def class_name(self, value: int) -> str:
        """The API name of class `value`."""
        return self.classes[value].name

    def with_data(self, data: Path) -> ModelSpec:
        """The same spec trained on another file of the same layout."""
        return self.model_copy(update={"data": data})

    def with_gate(self, min_accuracy: float, min_roc_auc: float) -> ModelSpec:
        """The same spec with other quality-gate thresholds (validated like the file's)."""
        gate = GateSpec(min_accuracy=min_accuracy, min_roc_auc=min_roc_auc)
        return self.model_copy(update={"gate": gate})

    def with_factory(self, factory: str) -> ModelSpec:
        """The same spec with another estimator factory."""
        return self.model_copy(update={"estimator": EstimatorSpec(factory=factory)})


def load_spec(path: Path) -> ModelSpec:
    """Read and validate a spec file; SpecError naming the file, key and problem otherwise."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise SpecError(f"{path}: spec file not found") from None
    except OSError as error:
        raise SpecError(f"{path}: cannot read the spec ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: not valid TOML ({error})") from None
    return parse_spec(raw, path)


def parse_spec(raw: dict[str, Any], path: Path) -> ModelSpec:
    """Validate a spec's keys; a relative `data` path is taken from `path`'s directory."""
    data = raw.get("data")
    if isinstance(data, str) and data:
        raw = {**raw, "data": (path.resolve().parent / data).resolve()}
    try:
        return ModelSpec.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(_describe(e) for e in error.errors(include_url=False))
        raise SpecError(f"{path}: {problems}") from None


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if not location:
        return message
    if error["type"] == "missing":
        return f"missing key {location!r}"
    if error["type"] == "extra_forbidden":
        return f"unknown key {location!r}"
    return f"key {location!r}: {message}"


Factory = Callable[[int], tuple[Any, dict[str, list[Any]]]]


def load_factory(spec: ModelSpec) -> Factory:
    """The spec's estimator factory, imported; SpecError if it cannot be."""
    reference = spec.estimator.factory
    module_name, _, function_name = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise SpecError(
            f"estimator.factory {reference!r}: cannot import {module_name!r} ({error}); "
            "is its directory on PYTHONPATH?"
        ) from None
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise SpecError(f"estimator.factory {reference!r}: {module_name} has no {function_name}()")
    return factory  # type: ignore[no-any-return]
