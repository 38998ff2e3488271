"""The banknote model, trained once per test session on first use.

The `artifact_dir` fixture returns it; so does a test module that needs the served app's schema
while pytest collects it (tests/api/test_schemathesis.py: the routes are the model's, so its
schema exists only once a model does). Either way it is trained once.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from model.build import train_artifact
from model.config import TrainConfig
from tests.banknote import SPEC


@functools.cache
def trained_artifact() -> Path:
    """A freshly trained artifact directory (the banknote spec, default config), read-only."""
    root = Path(tempfile.mkdtemp(prefix="pytest-artifact-"))
    atexit.register(shutil.rmtree, root, True)
    out = root / "model"
    train_artifact(SPEC, out, TrainConfig())
    return out
