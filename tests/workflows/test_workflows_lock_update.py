"""lock-update.yml upgrades the pins `make lock` would otherwise keep: its uv setting, run for
real with the project's uv against a local wheel directory (no index needed)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import zipfile
from base64 import urlsafe_b64encode
from pathlib import Path

import pytest

from tests.workflows.pipeline import ROOT, load_workflows

UV = ROOT / ".venv" / "bin" / "uv"


def wheel(directory: Path, name: str, version: str) -> None:
    """A minimal pure-Python wheel (PEP 427: METADATA, WHEEL and RECORD in .dist-info)."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }

    def record_line(path: str, data: str) -> str:
        digest = urlsafe_b64encode(hashlib.sha256(data.encode()).digest()).rstrip(b"=").decode()
        return f"{path},sha256={digest},{len(data.encode())}"

    record = "\n".join(record_line(p, d) for p, d in files.items()) + f"\n{info}/RECORD,,\n"
    with zipfile.ZipFile(directory / f"{name}-{version}-py3-none-any.whl", "w") as whl:
        for path, data in {**files, f"{info}/RECORD": record}.items():
            whl.writestr(path, data)


def upgrade_step() -> str:
    steps = load_workflows()["lock-update.yml"]["jobs"]["lock"]["steps"]
    (step,) = [s for s in steps if "UV_CONFIG_FILE" in s.get("run", "")]
    return str(step["run"])


@pytest.mark.skipif(not UV.exists(), reason="uv comes with .venv (make venv)")
def test_the_upgrade_setting_moves_a_kept_pin_to_the_newest_version(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in ("1.0", "1.1"):
        wheel(wheels, "fakepkg", version)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "0"\ndependencies = ["fakepkg"]\n'
    )
    lock = project / "requirements.txt"
    lock.write_text("fakepkg==1.0\n")
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    # The step's own line that writes the setting, as the runner would run it.
    write_setting = next(line for line in upgrade_step().splitlines() if "printf" in line)
    subprocess.run(["bash", "-c", write_setting], env={"RUNNER_TEMP": str(runner_temp)}, check=True)
    compile_ = [
        str(UV),
        "pip",
        "compile",
        "pyproject.toml",
        "--no-index",
        "--find-links",
        str(wheels),
        "--quiet",
        "--no-cache",
        "-o",
        "requirements.txt",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    subprocess.run(compile_, cwd=project, env=env, check=True)
    assert "fakepkg==1.0" in lock.read_text()  # what `make lock` does: keep the pin
    upgrading = {**env, "UV_CONFIG_FILE": str(runner_temp / "uv-upgrade.toml")}
    subprocess.run(compile_, cwd=project, env=upgrading, check=True)
    assert "fakepkg==1.1" in lock.read_text()
