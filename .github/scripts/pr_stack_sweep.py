"""Destroy and remove every pr-<number> stack whose pull request is closed or unlabelled.

    python .github/scripts/pr_stack_sweep.py --repository OWNER/REPO [--max-minutes 60]

The scheduled backstop of "MLOps workflow - Remove PR Stack": that workflow runs when a PR
closes, but a destroy can fail, and a run that started before the PR closed could still have
updated the stack. This lists the app's stacks, asks the GitHub API about each pr-<number>'s
pull request (.github/scripts/pr_gate.py decides), and destroys the ones no PR wants any more
with scripts/pulumi_stack.py; a stack another run holds (a cleanup destroying it right now) is
left for the next sweep rather than waited for. Needs `az login`, the
Pulumi CLI, `gh` with a token that may read pull requests, and the environment
scripts/pulumi_stack.py needs. It stops starting new destroys after --max-minutes, so a job
timeout never cuts one off; the next sweep takes the rest.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pr_gate import decide

ROOT = Path(__file__).resolve().parents[2]
STACK_SCRIPT = ROOT / "scripts" / "pulumi_stack.py"
PR_STACK = re.compile(r"^pr-(?P<number>[1-9][0-9]*)$")
LOCKED_EXIT = 3  # scripts/pulumi_stack.py destroy --no-wait: another run holds the stack


def stacks() -> list[str]:
    """The app project's stacks in the state backend."""
    result = subprocess.run(  # noqa: S603 - this repository's own script
        [sys.executable, str(STACK_SCRIPT), "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def pull_request(repository: str, number: str) -> dict[str, Any]:
    """The PR from the GitHub API; a PR that cannot be found counts as gone."""
    result = subprocess.run(  # noqa: S603 - fixed program and arguments
        ["gh", "api", f"repos/{repository}/pulls/{number}"],  # noqa: S607 - gh from PATH
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return {"number": number, "state": "not found"}
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def main(argv: Sequence[str] | None = None) -> int:
    """Sweep once; non-zero if a destroy failed."""
    parser = argparse.ArgumentParser(description="Destroy pr-<n> stacks no PR wants any more.")
    parser.add_argument("--repository", required=True, help="OWNER/REPO")
    parser.add_argument("--max-minutes", type=float, default=60.0)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.max_minutes * 60
    failed: list[str] = []
    for stack in stacks():
        match = PR_STACK.match(stack)
        if not match:
            continue
        wanted, reason = decide(pull_request(args.repository, match["number"]))
        print(f"{stack}: {reason}")
        if wanted:
            continue
        if time.monotonic() > deadline:
            print(f"::notice::{stack} left for the next sweep (time budget used up)")
            continue
        destroyed = subprocess.run(  # noqa: S603 - this repository's own script
            [sys.executable, str(STACK_SCRIPT), "destroy", "--no-wait", stack], check=False
        )
        if destroyed.returncode == LOCKED_EXIT:
            print(f"::notice::{stack} is locked by another run; left for the next sweep")
        elif destroyed.returncode != 0:
            print(f"::error::could not destroy {stack}")
            failed.append(stack)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
