"""Artifacts of earlier formats, rebuilt from current ones, for tests of backward reading."""

from __future__ import annotations

import copy
from typing import Any


def as_format_2(metadata: dict[str, Any]) -> dict[str, Any]:
    """The same artifact's metadata as format 2 wrote it: the feature names and the classes at
    the top level, no model contract (name, descriptions, positive class, examples, API words)."""
    old = copy.deepcopy({key: value for key, value in metadata.items() if key != "contract"})
    model = metadata["contract"]
    old["features"] = [feature["name"] for feature in model["features"]]
    old["classes"] = copy.deepcopy(model["classes"])
    return old | {"format_version": 2}


def as_format_1(metadata: dict[str, Any]) -> dict[str, Any]:
    """The same artifact's metadata as format 1 wrote it (before feature_stats and the bound)."""
    old = as_format_2(metadata)
    del old["feature_stats"]
    parity = old["onnx"].pop("parity")
    old["onnx"] |= {
        "parity_rows": parity["rows"],
        "parity_tolerance": 1e-5,
        "max_probability_gap": parity["max_probability_gap"],
    }
    return old | {"format_version": 1}
