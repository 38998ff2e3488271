"""Entry point Pulumi runs for the app stack (Pulumi.yaml: `main: infra/`)."""

import sys
from pathlib import Path

# Pulumi runs this directory by path, which puts infra/ itself first on sys.path. Swap it for
# the repository root: the program imports the `infra` package, and infra's module names
# (config, image, ...) must not shadow anything else.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from infra.app import main  # noqa: E402 - needs the path set above

main()
