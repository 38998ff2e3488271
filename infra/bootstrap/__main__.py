"""Entry point Pulumi runs for the bootstrap project (infra/bootstrap/Pulumi.yaml)."""

import sys
from pathlib import Path

# As in infra/__main__.py: the program imports the `infra` package from the repository root,
# and this directory's module names must not shadow anything else.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parents[1]))

from infra.bootstrap.program import main  # noqa: E402 - needs the path set above

main()
