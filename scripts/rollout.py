"""The prod rollout on Azure Container Apps: import dev's image, canary, promote step by step
through the gate, or roll back. The commands and what each does: infra/rollout/run.py.

    python scripts/rollout.py import-image STACK --source REF --model-version VERSION
    python scripts/rollout.py canary STACK --image REF [--rollout-id ID]
    python scripts/rollout.py promote STACK
    python scripts/rollout.py rollback STACK --reason TEXT
    python scripts/rollout.py status STACK

Run by the prod job of deploy.yml, and by a person (docs/deploy/prod.md), from the repository
root with the project's virtualenv, after `scripts/pulumi_stack.py prepare STACK --create` and
`az login`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run by path, this file's directory is first on sys.path; the logic lives in the infra package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.rollout.run import main  # needs the path set above

if __name__ == "__main__":
    sys.exit(main())
