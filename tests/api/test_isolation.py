"""The service never loads training code or the scientific stack it does not need."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: this test process itself has sklearn loaded by the fixtures.
PROBE = """
import json, sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from fastapi.testclient import TestClient
from api.config import Settings
from api.main import create_app
with TestClient(create_app(Settings(model_dir=Path(sys.argv[1])))) as client:
    assert client.post("/predict", json={"variance": 1, "skewness": 2, "curtosis": 3,
                                         "entropy": 4}).status_code == 200
    assert client.get("/docs").status_code == 200
print(json.dumps(sorted(sys.modules)))
"""

FORBIDDEN = ("model", "sklearn", "scipy", "pandas", "joblib", "skl2onnx", "onnx")


def test_serving_imports_no_training_stack(artifact_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(artifact_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    loaded = {name.split(".")[0] for name in modules}
    assert "onnxruntime" in loaded
    assert not loaded & set(FORBIDDEN), sorted(loaded & set(FORBIDDEN))
