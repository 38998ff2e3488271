"""Find a model version's image in a stack's registry, or copy the model out of an image.

    python scripts/acr_image.py resolve --stack STACK --version MODEL_VERSION
    python scripts/acr_image.py extract IMAGE DIR

`resolve` prints `<registry>/<repository>@sha256:<digest>`, the reference the app stack's config
`image` takes, for the image the pipeline pushed as `<repository>:<model version>` (and writes it
as the `image` step output under GitHub Actions). The registry and repository are the stack's own,
from its outputs (`pulumi stack output`); the digest is looked up with `az acr manifest
list-metadata`, which lists each manifest with its tags. It needs the Pulumi CLI logged in to the
state backend and `az login` as an identity that may read the registry (CI: the deploy identity,
whose deployer role covers its registry; a developer: their own stack's).

`extract` copies the served model (metadata.json and model.onnx, and MODEL_CARD.md if there is
one) out of an image into DIR, from the directory its MODEL_DIR points at, with `docker create`
and `docker cp`. The deploy
job records what dev serves this way after a rollback, so the next comparison's champion is the
model that is really serving (the Docker CLI must be logged in to the registry: `az acr login`).

Errors are one line on stderr, exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# A Docker tag (distribution-spec: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}), which is also the
# grammar of a model version (contract/schema.py MODEL_VERSION_PATTERN), so every model
# version is a valid tag.
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# What a comparison needs (python -m model compare reads these two), and the model card beside
# them when the image has one.
SERVED_FILES = ("metadata.json", "model.onnx")
OPTIONAL_FILES = ("MODEL_CARD.md",)
NEWEST_SHOWN = 5


class ImageError(Exception):
    """A failure to report as one line on stderr."""


def run(*command: str) -> str:
    """Run a CLI and return its stdout; its last stderr line becomes the error."""
    try:
        result = subprocess.run(  # noqa: S603 - fixed programs, arguments from this script
            command, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise ImageError(f"{command[0]} is not installed") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise ImageError(f"{' '.join(command[:3])} failed: {lines[-1] if lines else 'no output'}")
    return result.stdout


def stack_registry(stack: str) -> tuple[str, str]:
    """(login server, repository) of a stack's service image, from its outputs."""
    try:
        outputs: dict[str, Any] = json.loads(
            run("pulumi", "stack", "output", "--json", "--stack", stack)
        )
    except ValueError:
        raise ImageError(f"`pulumi stack output` for {stack} is not JSON") from None
    server, image = outputs.get("registry"), outputs.get("image")
    if not isinstance(server, str) or not isinstance(image, str) or "@" not in image:
        raise ImageError(
            f"stack {stack} has no registry and image outputs: it has never been deployed, "
            "so there is no image to deploy"
        )
    repository = image.split("@", 1)[0].removeprefix(f"{server}/")
    return server, repository


def resolve(stack: str, version: str) -> str:
    """The digest reference of the image tagged `version` in the stack's registry."""
    if not TAG.match(version):
        raise ImageError(f"{version!r} is not a model version (letters, digits, '_', '.', '-')")
    server, repository = stack_registry(stack)
    listing = run(
        "az", "acr", "manifest", "list-metadata",
        "--registry", server.split(".", 1)[0], "--name", repository,
        "--orderby", "time_desc", "--output", "json",
    )  # fmt: skip
    try:
        manifests: list[dict[str, Any]] = json.loads(listing)
    except ValueError:
        raise ImageError("az acr manifest list-metadata did not answer JSON") from None
    for manifest in manifests:
        if version in (manifest.get("tags") or []):
            digest = str(manifest.get("digest", ""))
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
                raise ImageError(f"{server}/{repository}:{version} has no sha256 digest")
            return f"{server}/{repository}@{digest}"
    newest = [tag for m in manifests for tag in (m.get("tags") or [])][:NEWEST_SHOWN]
    raise ImageError(
        f"model version {version} is not in {server}/{repository} "
        f"(newest there: {', '.join(newest) or 'none'})"
    )


def extract(image: str, out_dir: Path) -> str:
    """Copy the served model out of `image` into `out_dir`; return its model version."""
    name = f"model-from-image-{secrets.token_hex(4)}"
    run("docker", "create", "--name", name, image)
    try:
        env = json.loads(
            run("docker", "container", "inspect", "--format", "{{json .Config.Env}}", name)
        )
        model_dir = next(
            (item.split("=", 1)[1] for item in env or [] if item.startswith("MODEL_DIR=")), ""
        )
        if not model_dir.startswith("/"):
            raise ImageError(f"{image} sets no absolute MODEL_DIR: not a service image")
        out_dir.mkdir(parents=True, exist_ok=True)
        for file in SERVED_FILES:
            run("docker", "cp", f"{name}:{model_dir}/{file}", str(out_dir / file))
        for file in OPTIONAL_FILES:
            try:
                run("docker", "cp", f"{name}:{model_dir}/{file}", str(out_dir / file))
            except ImageError:
                print(f"acr_image: {image} has no {file}", file=sys.stderr)
    finally:
        subprocess.run(  # noqa: S603 - fixed program, a name made here
            ["docker", "rm", name],  # noqa: S607 - the Docker CLI from PATH is the point
            capture_output=True,
            check=False,
        )
    metadata = json.loads((out_dir / "metadata.json").read_text(encoding="utf-8"))
    return str(metadata.get("model_version", ""))


def github_output(name: str, value: str) -> None:
    """Write a step output when running under GitHub Actions."""
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{name}={value}\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    find = commands.add_parser("resolve", help="print the digest reference of a model version")
    find.add_argument("--stack", required=True, help="the app stack whose registry to search")
    find.add_argument("--version", required=True, help="the model version the image is tagged with")
    copy = commands.add_parser("extract", help="copy the served model out of an image")
    copy.add_argument("image", help="image reference, e.g. <registry>/<repository>@sha256:<digest>")
    copy.add_argument("out_dir", type=Path, help="directory to write the model files into")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "resolve":
            reference = resolve(args.stack, args.version.strip())
            print(f"model version {args.version.strip()} is {reference}", file=sys.stderr)
            print(reference)
            github_output("image", reference)
        else:
            version = extract(args.image, args.out_dir)
            print(f"model {version} copied from {args.image} into {args.out_dir}", file=sys.stderr)
            github_output("model-version", version)
    except (ImageError, OSError, ValueError) as error:
        print(f"acr_image: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
