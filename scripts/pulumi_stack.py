"""Select, create or destroy an app stack so that its secrets always use the Key Vault key.

    python scripts/pulumi_stack.py prepare STACK [--create]
    python scripts/pulumi_stack.py destroy STACK
    python scripts/pulumi_stack.py list

Used by every workflow job that runs Pulumi and by scripts/stack.sh, from the repository root,
after `az login`, with PULUMI_BACKEND_URL, PULUMI_SECRETS_PROVIDER and
PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true in the environment.

Why this exists. Pulumi picks the secrets manager of an existing stack from the stack's config
file, Pulumi.<stack>.yaml: its `secretsprovider` and `encryptedkey` (pulumi/pulumi
pkg/cmd/pulumi/stack/secrets.go, `SecretsManagerLoader.GetSecretsManager`). `pulumi stack init
--secrets-provider` writes them there, and that is the only time pulumi/actions passes the
provider (its main.ts hands `secretsProvider` to LocalWorkspace, whose `createStack` alone adds
`--secrets-provider`; `selectStack` does not). CI never commits that file, so on every later run
the file has no provider and a DIY backend falls back to the passphrase manager, which stops
with "passphrase must be set with PULUMI_CONFIG_PASSPHRASE ...". With
PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true the CLI takes the manager recorded in the stack's
state instead; `stack init` records it there from the start (pkg/cmd/pulumi/stack/io.go
`CreateStack` sends it as the initial state, since v3.135.0, pulumi/pulumi#17387). So every job
creates its stacks here, with the Key Vault provider, and never through pulumi/actions'
`upsert`. A stack whose state records no manager (made by an older CLI) and holds no resources
is removed and re-created by `prepare --create`; a job that must not create (the preview of dev)
reports it as missing.

`destroy` retries while another run holds the stack's lock, so a destroy that starts while a
`pulumi up` of the same stack is running waits for it instead of failing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

LOCKED = "the stack is currently locked"
LOCK_RETRY_SECONDS = 30.0
# Longer than the longest job that can hold a stack's lock (the update jobs time out at 75
# minutes), so a destroy queued behind a running update always gets its turn.
LOCK_WAIT_SECONDS = 80 * 60.0


class StackError(Exception):
    """A failure to report as one line on stderr."""


class StackLockedError(StackError):
    """Another run holds the stack's lock, and we were not to wait for it."""


LOCKED_EXIT = 3  # `destroy --no-wait` of a stack another run holds


def pulumi(*args: str, capture: bool = True, echo: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the pulumi CLI; its output is captured (and echoed unless told not to) or streamed."""
    try:
        result = subprocess.run(  # noqa: S603 - fixed program, arguments from this script
            ["pulumi", *args],  # noqa: S607 - the CLI from PATH is the point
            capture_output=capture,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise StackError("the pulumi CLI is not installed") from None
    if capture and echo:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
    return result


def require(name: str) -> str:
    """An environment variable that must be set."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise StackError(
            f"{name} is not set (the bootstrap prints it; see docs/deploy/azure-setup.md)"
        )
    return value


def login() -> None:
    """Log in to the state backend named by PULUMI_BACKEND_URL."""
    url = require("PULUMI_BACKEND_URL")
    if os.environ.get("PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER", "").lower() != "true":
        raise StackError(
            "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER must be true: without it an existing "
            "stack falls back to the passphrase manager"
        )
    # Its chatter goes to stderr, so that `list` prints nothing but stack names.
    result = pulumi("login", url, echo=False)
    sys.stderr.write(result.stdout + result.stderr)
    if result.returncode != 0:
        raise StackError(
            f"cannot log in to {url}: is `az login` done, and has dev been deployed from main "
            "once (the first login creates .pulumi/meta.yaml; docs/deploy/first-deploy.md)?"
        )


def stack_names() -> list[str]:
    """The current project's stacks in the backend (names without organization/project)."""
    result = pulumi("stack", "ls", "--json", capture=True, echo=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise StackError("cannot list the stacks in the backend")
    return [str(s.get("name", "")).split("/")[-1] for s in json.loads(result.stdout or "[]")]


def exists(stack: str) -> bool:
    """Whether the current project has a stack of that name in the backend."""
    return stack in stack_names()


def deployment(stack: str) -> dict[str, Any]:
    """The stack's state (`pulumi stack export`, secrets left encrypted)."""
    result = pulumi("stack", "export", "--stack", stack, echo=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise StackError(f"cannot export stack {stack}")
    exported: dict[str, Any] = json.loads(result.stdout or "{}")
    state: dict[str, Any] = exported.get("deployment") or {}
    return state


def create(stack: str) -> None:
    """`pulumi stack init` with the Key Vault secrets provider."""
    provider = require("PULUMI_SECRETS_PROVIDER")
    if pulumi("stack", "init", "--secrets-provider", provider, stack).returncode != 0:
        raise StackError(f"cannot create stack {stack}")


def prepare(stack: str, *, may_create: bool) -> bool:
    """Leave `stack` selected with a Key Vault secrets manager; False if it does not exist."""
    login()
    if exists(stack):
        state = deployment(stack)
        if state.get("secrets_providers"):
            if pulumi("stack", "select", stack).returncode != 0:
                raise StackError(f"cannot select stack {stack}")
            return True
        if state.get("resources"):
            raise StackError(
                f"stack {stack} has resources but records no secrets manager; fix it by hand "
                "(`pulumi stack change-secrets-provider`)"
            )
        if not may_create:
            print(f"stack {stack} has no secrets manager and no resources; treating it as missing")
            return False
        print(f"stack {stack} has no secrets manager and no resources; re-creating it")
        if pulumi("stack", "rm", "--yes", stack).returncode != 0:
            raise StackError(f"cannot remove the empty stack {stack}")
    elif not may_create:
        return False
    create(stack)
    return True


def destroy(stack: str, *, wait_seconds: float = LOCK_WAIT_SECONDS) -> None:
    """Destroy everything the stack created and remove it; nothing to do if it is gone."""
    login()
    if not exists(stack):
        print(f"no stack {stack}: nothing to remove")
        return
    if not deployment(stack).get("resources"):
        # Never deployed: nothing to destroy (and an old stack may have no manager to load).
        if pulumi("stack", "rm", "--yes", stack).returncode != 0:
            raise StackError(f"cannot remove stack {stack}")
        return
    deadline = time.monotonic() + wait_seconds
    while True:
        result = pulumi("destroy", "--yes", "--remove", "--stack", stack)
        if result.returncode == 0:
            return
        if LOCKED not in result.stdout + result.stderr:
            raise StackError(f"pulumi destroy of {stack} failed")
        if time.monotonic() >= deadline:
            raise StackLockedError(f"stack {stack} is still locked by another run; not destroyed")
        print(f"stack {stack} is locked by another run; retrying in {LOCK_RETRY_SECONDS:.0f} s")
        time.sleep(LOCK_RETRY_SECONDS)


def github_output(name: str, value: str) -> None:
    """Set a step output when running in GitHub Actions."""
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{name}={value}\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="select the stack, creating it if asked")
    prep.add_argument("stack", help="stack name, e.g. dev, prod, pr-42")
    prep.add_argument("--create", action="store_true", help="create the stack if missing")
    gone = commands.add_parser("destroy", help="destroy and remove the stack")
    gone.add_argument("stack", help="stack name, e.g. pr-42")
    gone.add_argument(
        "--no-wait", action="store_true", help=f"exit {LOCKED_EXIT} if another run holds it"
    )
    commands.add_parser("list", help="print the project's stacks, one a line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; errors become one line on stderr and exit status 1."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            login()
            print("\n".join(stack_names()))
        elif args.command == "prepare":
            found = prepare(args.stack, may_create=args.create)
            github_output("exists", "true" if found else "false")
            if not found:
                print(f"no deployed stack {args.stack}")
        else:
            destroy(args.stack, wait_seconds=0.0 if args.no_wait else LOCK_WAIT_SECONDS)
    except StackLockedError as exc:
        print(f"pulumi_stack: {exc}", file=sys.stderr)
        return LOCKED_EXIT
    except StackError as exc:
        print(f"pulumi_stack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
