"""The trained model's contract, as the artifact records it: built from the spec, the data
and the fitted model (contract/model.py says who reads it).

What the spec leaves out is derived here, once, so that serving never has to: a feature without
a description is described by its training range, and every API word has a default made from
the model's own names. The examples, one per class, are rows of the data file: per class, the
first row in file order that the fitted model classifies correctly (for the banknote data, the
file's lines 1 and 763).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from contract import (
    ApiText,
    ClassInfo,
    Example,
    FeatureInfo,
    FeatureStatsBlock,
    ModelContract,
    Signature,
)
from model.data import Dataset
from model.errors import QualityGateError
from model.evaluate import positive_probabilities
from model.spec import ModelSpec


def spec_signature(spec: ModelSpec) -> Signature:
    """The name, features, classes and positive class the spec declares."""
    return Signature(
        name=spec.name,
        features=spec.features,
        classes=_classes(spec),
        positive_class=spec.positive,
    )


def build_contract(
    spec: ModelSpec, dataset: Dataset, stats: FeatureStatsBlock, model: Any
) -> ModelContract:
    """The whole contract of `model`, fitted on `dataset` as `spec` says."""
    signature = spec_signature(spec)
    return ModelContract(
        name=spec.name,
        features=feature_infos(spec, stats),
        classes=signature.classes,
        positive_class=spec.positive,
        examples=class_examples(dataset, model, signature),
        api=api_text(spec),
    )


def _classes(spec: ModelSpec) -> tuple[ClassInfo, ...]:
    return tuple(
        ClassInfo(value=value, name=spec.classes[value].name, label=spec.classes[value].label)
        for value in spec.class_values
    )


def feature_infos(spec: ModelSpec, stats: FeatureStatsBlock) -> tuple[FeatureInfo, ...]:
    """Each feature's description (the spec's, or its training range) and unit."""
    infos = []
    for name in spec.features:
        given = spec.feature_info.get(name)
        description = given.description if given else None
        if description is None:
            feature = stats.features[name]
            description = (
                f"{name}: from {feature.min:.4g} to {feature.max:.4g} in the training rows."
            )
        infos.append(
            FeatureInfo(name=name, description=description, unit=given.unit if given else None)
        )
    return tuple(infos)


def class_examples(dataset: Dataset, model: Any, signature: Signature) -> tuple[Example, ...]:
    """Per class, the first row of the data file that `model` classifies correctly."""
    predicted = model.predict(dataset.features)
    p_positive = positive_probabilities(model, dataset.features, signature)
    examples = []
    for info in signature.classes:
        right = np.flatnonzero((dataset.labels == info.value) & (predicted == info.value))
        if not right.size:
            raise QualityGateError(
                f"quality gate failed: the model classifies no {info.name!r} row of "
                f"{dataset.path.name} correctly, so there is no example of that class to serve"
            )
        row = int(right[0])
        examples.append(
            Example(
                class_value=info.value,
                line=int(dataset.lines[row]),
                values=dict(zip(signature.features, dataset.features[row].tolist(), strict=True)),
                probability=float(p_positive[row]),
            )
        )
    return tuple(examples)


def api_text(spec: ModelSpec) -> ApiText:
    """The spec's API words, each missing one derived from the spec's names."""
    given = spec.api
    first, second = (spec.classes[value].name for value in spec.class_values)
    positive = spec.classes[spec.positive].name
    count = len(spec.features)
    row = given.row or "row"
    return ApiText(
        title=given.title or f"{spec.name} API",
        description=given.description
        or f"Tells {first} from {second} by {count} features: {', '.join(spec.features)}.",
        predict_summary=given.predict_summary or f"Predict {first} or {second}",
        predict_description=given.predict_description
        or (
            f"Is this {row} {first} or {second}?\n\nSend its {count} features (integers or "
            f"floats). The answer has the predicted class, its label and the probability of "
            f"{positive}."
        ),
        batch_summary=given.batch_summary or f"Predict many {given.rows or row + 's'} at once",
        row=row,
        rows=given.rows or f"{row}s",
        row_description=given.row_description or f"The {count} features of one {row}.",
        label_description=given.label_description or "The predicted class's label.",
        probability_description=given.probability_description
        or f"P({positive}), as the model estimates it.",
    )
