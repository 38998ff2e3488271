"""The model spec is the only place that knows a model: no Python source outside tests/ and
bench/ names the banknote model's features (model/specs/banknote.toml does), and the code that
trains, describes, serves and smoke-tests a model (model/, contract/, api/, scripts/) names
none of its classes or labels either.

The names are read from the spec, so the check follows it: whatever its features and classes
are, the code must not know them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.banknote import SPEC

ROOT = Path(__file__).resolve().parents[1]
# Where naming the banknote model is the point: the tests and benchmarks of this project.
ALLOWED = ("tests/", "bench/")
# The packages the model spec made model-agnostic (infra/'s rollout policy, for one, explains
# its default thresholds with the banknote model's classes).
NO_CLASSES = ("model/", "contract/", "api/", "scripts/")


def python_sources() -> list[Path]:
    """Every Python file in the repository (tracked or new), outside tests/ and bench/."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if not name.startswith(ALLOWED)]


def class_words() -> list[str]:
    """The spec's class names and labels."""
    classes = SPEC.classes.values()
    return [*(c.name for c in classes), *(c.label for c in classes)]


def pattern_of(words: list[str]) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.I)


def naming(sources: list[Path], pattern: re.Pattern[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]


def test_no_python_source_names_the_banknote_features() -> None:
    sources = python_sources()
    assert len(sources) > 50  # the check reads the real tree
    found = naming(sources, pattern_of(list(SPEC.features)))
    assert found == [], "feature names outside model/specs/:\n" + "\n".join(found)


def test_the_model_agnostic_packages_name_no_class_or_label() -> None:
    sources = [p for p in python_sources() if str(p.relative_to(ROOT)).startswith(NO_CLASSES)]
    assert len(sources) > 30
    found = naming(sources, pattern_of(class_words()))
    assert found == [], "class names or labels outside model/specs/:\n" + "\n".join(found)


def test_the_check_would_see_them() -> None:
    # The patterns find the names where the code once had them (api/schemas.py).
    assert {"variance", "entropy"} <= set(SPEC.features)
    assert {"forged", "Goed bankbiljet"} <= set(class_words())
    assert pattern_of(list(SPEC.features)).search("    variance: Annotated[float, Field(...)]")
    assert not pattern_of(list(SPEC.features)).search("    covariance = 1.0")
    assert pattern_of(class_words()).search('ClassName = Literal["genuine", "forged"]')
