"""Entry point Pulumi runs for the app stack (Pulumi.yaml: `main: infra/`)."""

import sys
from pathlib import Path

# Pulumi runs this file by path, which puts only infra/ on sys.path; the program imports the
# `infra` package, so the repository root must be importable too.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from infra.app import main  # noqa: E402 - needs the path set above

main()
