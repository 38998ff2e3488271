"""Whether a pull request's own stack (pr-<number>) should exist right now.

    gh api repos/OWNER/REPO/pulls/NUMBER | python3 .github/scripts/pr_gate.py [--head-sha SHA]

Reads the pull request as the GitHub REST API returns it ("Get a pull request": `state`,
`labels[].name`, `head.sha`) and writes `deploy=true` or `deploy=false` to $GITHUB_OUTPUT,
with the reason as a notice. A stack is wanted while the PR is open and labelled
`preview-stack`; with --head-sha also only if the PR still points at that commit (an older
run must not overwrite what a newer push deployed). The workflows ask the API, not the event
payload, because the payload is as old as the run: a run that started before the PR was closed
or unlabelled would otherwise `pulumi up` a stack that cleanup already destroyed.

Plain Python 3, no dependencies: it runs before the job's virtualenv exists.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

LABEL = "preview-stack"


def decide(pr: Mapping[str, Any], *, head_sha: str | None = None) -> tuple[bool, str]:
    """(wanted, reason) for one pull request as the REST API returns it."""
    number = pr.get("number", "?")
    state = pr.get("state")
    if state != "open":
        merged = " (merged)" if pr.get("merged") else ""
        return False, f"PR #{number} is {state}{merged}: its stack must not exist"
    labels = {label.get("name") for label in pr.get("labels") or []}
    if LABEL not in labels:
        return False, f"PR #{number} is not labelled {LABEL}: no stack for it"
    current = (pr.get("head") or {}).get("sha")
    if head_sha and current != head_sha:
        return False, f"PR #{number} has moved on to {current}: the run for that commit deploys"
    return True, f"PR #{number} is open and labelled {LABEL}"


def main(argv: Sequence[str] | None = None) -> int:
    """Read the PR from stdin, print the reason, set the `deploy` output."""
    parser = argparse.ArgumentParser(description="Should pr-<number> exist now?")
    parser.add_argument("--head-sha", default=None, help="the commit this run deploys")
    args = parser.parse_args(argv)
    try:
        pr = json.load(sys.stdin)
    except ValueError as exc:
        print(f"pr_gate: the GitHub API answer is not JSON: {exc}", file=sys.stderr)
        return 1
    if not isinstance(pr, dict) or "state" not in pr:
        print(f"pr_gate: not a pull request: {str(pr)[:200]}", file=sys.stderr)
        return 1
    wanted, reason = decide(pr, head_sha=args.head_sha)
    print(f"::notice::{reason}")
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as out:
            out.write(f"deploy={'true' if wanted else 'false'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
