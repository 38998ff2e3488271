"""A deployed image is a champion: `scripts/acr_image.py extract` copies the served model out of
the real image (Docker CLI and engine), and `python -m model compare` accepts it.

After a rollback the deploy job records dev's serving model this way (deploy.yml), so the next
comparison's champion must be comparable straight from an image's files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.container.support import ARTIFACT_DIR, ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_model_in_an_image_compares_as_the_champion(
    image: str, image_artifact: dict[str, Any], tmp_path: Path
) -> None:
    champion = tmp_path / "champion"
    extracted = run("scripts/acr_image.py", "extract", image, str(champion))
    assert extracted.returncode == 0, extracted.stderr
    assert sorted(p.name for p in champion.iterdir()) == [
        "MODEL_CARD.md",
        "metadata.json",
        "model.onnx",
    ]
    metadata = json.loads((champion / "metadata.json").read_text())
    assert metadata["model_version"] == image_artifact["model_version"]
    # The files are verified (sha256 in metadata.json) and scored, as the service runs them.
    report = tmp_path / "comparison.json"
    compared = run(
        "-m", "model", "compare", "--champion", str(champion), "--challenger", str(ARTIFACT_DIR),
        "--json", str(report),
    )  # fmt: skip
    assert compared.returncode == 0, compared.stderr
    assert json.loads(report.read_text())["verdict"] == "pass"
    # No container is left behind.
    names = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, check=True
    ).stdout
    assert "model-from-image-" not in names


def test_an_image_that_is_not_a_service_image_is_one_line(base_image: str, tmp_path: Path) -> None:
    # The base image: no service, no MODEL_DIR (Docker may already refuse to create it: no
    # command). Either way one line, and nothing copied.
    result = run("scripts/acr_image.py", "extract", base_image, str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.startswith("acr_image: ")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "out" / "metadata.json").exists()
