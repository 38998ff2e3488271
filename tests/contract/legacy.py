"""Artifacts of earlier formats, rebuilt from current ones, for tests of backward reading."""

from __future__ import annotations

import copy
from typing import Any


def as_format_1(metadata: dict[str, Any]) -> dict[str, Any]:
    """The same artifact's metadata as format 1 wrote it (before feature_stats and the bound)."""
    old = copy.deepcopy({key: value for key, value in metadata.items() if key != "feature_stats"})
    parity = old["onnx"].pop("parity")
    old["onnx"] |= {
        "parity_rows": parity["rows"],
        "parity_tolerance": 1e-5,
        "max_probability_gap": parity["max_probability_gap"],
    }
    return old | {"format_version": 1}
