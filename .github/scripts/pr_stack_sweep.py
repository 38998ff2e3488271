"""Destroy and remove every pr-<number> stack whose pull request is closed or unlabelled.

    python .github/scripts/pr_stack_sweep.py --repository OWNER/REPO [--max-minutes 60]

The scheduled backstop of "MLOps workflow - Remove PR Stack": that workflow runs when a PR
closes, but a destroy can fail, and a run that started before the PR closed could still have
updated the stack. This lists the app's stacks, asks the GitHub API about each pr-<number>'s
pull request (.github/scripts/pr_gate.py decides), and destroys the ones no PR wants any more
with scripts/pulumi_stack.py; a stack another run holds (a cleanup destroying it right now) is
left for the next sweep rather than waited for. Only an HTTP 404 counts as "the PR is gone":
any other API error leaves that stack alone and fails the sweep once the others are handled.
Needs `az login`, the Pulumi CLI, `gh` with a token that may read pull requests, and the
environment scripts/pulumi_stack.py needs. It stops starting new destroys after
--max-minutes, so a job timeout never cuts one off; the next sweep takes the rest.
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


# How `gh api` reports an HTTP error (cli/cli pkg/cmd/api/api.go, processResponse and
# parseErrorResponse): the response body on stdout, one line "gh: <message> (HTTP <status>)" on
# stderr ("gh: HTTP <status>" when the body has no message), and exit code 1
# (internal/ghcmd/cmd.go: SilentError -> exitError). Every other failure also exits non-zero
# (1, or 4 without credentials) with no status at all. Only a 404 says the PR does not exist.
NOT_FOUND = re.compile(r"^gh: (HTTP 404|.* \(HTTP 404\))$", re.MULTILINE)


class GitHubError(Exception):
    """The GitHub API did not say what became of a pull request."""


def pull_request(repository: str, number: str) -> dict[str, Any] | None:
    """The PR as the GitHub API returns it; None if the API answers 404 (there is no such PR).

    Raises GitHubError for any other failure (403, 5xx, rate limit, network, credentials): the
    PR may well be open, so its stack must not be destroyed on that answer.
    """
    result = subprocess.run(  # noqa: S603 - fixed program and arguments
        ["gh", "api", f"repos/{repository}/pulls/{number}"],  # noqa: S607 - gh from PATH
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        if NOT_FOUND.search(result.stderr):
            return None
        said = " ".join(result.stderr.split()) or f"exit code {result.returncode}"
        raise GitHubError(f"gh api failed ({said})")
    try:
        answer = json.loads(result.stdout)
    except ValueError as exc:
        raise GitHubError(f"the GitHub API answer is not JSON: {exc}") from exc
    if not isinstance(answer, dict) or "state" not in answer:
        raise GitHubError(f"not a pull request: {result.stdout[:200]}")
    return answer


def main(argv: Sequence[str] | None = None) -> int:
    """Sweep once; non-zero if a destroy failed or the API could not say what a PR is."""
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
        number = match["number"]
        try:
            pr = pull_request(args.repository, number)
        except GitHubError as exc:
            print(f"::error::{stack} left as it is: PR #{number} unknown, {exc}")
            failed.append(stack)
            continue
        wanted, reason = decide(pr if pr is not None else {"number": number, "state": "gone"})
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
