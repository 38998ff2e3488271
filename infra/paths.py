"""Where the project's files are, independent of the working directory.

The Pulumi CLI runs a project whose `main` is a directory with that directory as the working
directory, for the program and for every provider plugin it starts (pulumi/pulumi
pkg/engine/project.go `getPwdMain`: `if maininfo.IsDir() { pwd = main; main = "." }`; the Python
host then does `os.chdir(args.pwd)` in sdk/python/cmd/pulumi-language-python-exec). With
`main: infra/` a relative path such as `artifacts/model` or a Docker build context `.` would
therefore point into infra/. Every path the programs read or hand to a provider is built from
PROJECT_ROOT instead, and is absolute.

PROJECT_ROOT comes from this file's location rather than `pulumi.get_root_directory()`: the two
agree under the CLI (both are the directory holding Pulumi.yaml), but under Pulumi's unit-test
mocks the runtime still holds its placeholder "root_directory" (pulumi/runtime/settings.py), and
this must not depend on which of the two runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
DOCKERFILE: Final = PROJECT_ROOT / "Dockerfile"


def from_root(path: str | Path, root: Path = PROJECT_ROOT) -> Path:
    """`path` as an absolute path: relative paths are taken from the project root, not the cwd."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else root / candidate
