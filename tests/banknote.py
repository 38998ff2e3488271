"""The banknote model as the tests use it: its spec, its data file, two rows of known class.

Tests may name the banknote features; the code outside model/specs/ may not
(tests/test_no_model_in_code.py).
"""

from __future__ import annotations

from typing import Any

from model.config import DEFAULT_SPEC
from model.estimators import calibrated_rbf_svc
from model.spec import ModelSpec, load_spec

SPEC: ModelSpec = load_spec(DEFAULT_SPEC)
DATA_PATH = SPEC.data
FEATURES = SPEC.features
# Lines 1 and 763 of the data file: the first genuine and the first forged note, the examples
# training records (model/describe.py) and /docs shows.
GENUINE = {"variance": 3.6216, "skewness": 8.6661, "curtosis": -2.8073, "entropy": -0.44699}
FORGED = {"variance": -1.3971, "skewness": 3.3191, "curtosis": -1.3927, "entropy": -1.9948}


def spec_on(data: Any = None, gate: bool = True, factory: str | None = None) -> ModelSpec:
    """The banknote spec, on another data file, without its quality gate, or with another
    estimator factory."""
    spec = SPEC if data is None else SPEC.with_data(data)
    spec = spec if gate else spec.with_gate(0, 0)
    return spec if factory is None else spec.with_factory(factory)


def single_svc(c: float, gamma: float) -> Any:
    """A factory of the banknote estimator that searches one C and one gamma only."""

    def factory(seed: int) -> tuple[Any, dict[str, list[Any]]]:
        estimator, _grid = calibrated_rbf_svc(seed)
        return estimator, {"classifier__estimator__C": [c], "classifier__estimator__gamma": [gamma]}

    return factory


def fast_svc(seed: int) -> tuple[Any, dict[str, list[Any]]]:
    """The banknote estimator with the C and gamma its search picks, searching nothing else
    (spec factory "tests.banknote:fast_svc"): the same kind of model, trained in seconds."""
    return single_svc(10.0, 0.5)(seed)  # type: ignore[no-any-return]


def weak_svc(seed: int) -> tuple[Any, dict[str, list[Any]]]:
    """The banknote estimator with a deliberately poor C and gamma (spec factory
    "tests.banknote:weak_svc")."""
    return single_svc(0.01, 5.0)(seed)  # type: ignore[no-any-return]


def three_feature_spec_file(directory: Any) -> Any:
    """A spec file of a model with another contract than the banknote one, trained in seconds:
    three of the four features, read by name from a copy of the data file with a header row."""
    data = directory / "notes.csv"
    rows = DATA_PATH.read_text().splitlines()
    data.write_text(",".join((*FEATURES, SPEC.target)) + "\n" + "\n".join(rows) + "\n")
    dropped = FEATURES[3]
    lines = []
    for line in DEFAULT_SPEC.read_text().splitlines():
        if line.startswith(f"{dropped} = "):
            continue  # its feature_info
        if line.startswith("features = "):
            line = "features = [" + ", ".join(f'"{f}"' for f in FEATURES[:3]) + "]"
        line = {
            "header": "header = true",
            "data": f'data = "{data}"',
            "factory": 'factory = "tests.banknote:fast_svc"',
        }.get(line.split(" ", 1)[0], line)
        lines.append(line)
    path = directory / "three-features.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def three_feature_spec(directory: Any) -> ModelSpec:
    """The spec of `three_feature_spec_file`, loaded."""
    return load_spec(three_feature_spec_file(directory))


def spec_file(directory: Any, factory: str | None = None, data: Any = None) -> Any:
    """A copy of the banknote spec file in `directory`, with another estimator factory or data
    file (the copy's relative `data` would resolve from `directory`, so it is made absolute)."""
    text = DEFAULT_SPEC.read_text()
    lines = []
    for line in text.splitlines():
        if line.startswith("data = "):
            line = f'data = "{data or DATA_PATH}"'
        elif line.startswith("factory = ") and factory:
            line = f'factory = "{factory}"'
        lines.append(line)
    path = directory / "spec.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
