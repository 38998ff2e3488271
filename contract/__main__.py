"""`python -m contract DIR`: can this code serve the artifact in DIR? Prints its model version.

Exit code 0 when DIR holds a current-format artifact whose metadata satisfies the contract and
whose model.onnx has its recorded sha256; otherwise 1 and one line on stderr saying why (the
Makefile retrains on that, e.g. after an upgrade to a newer format).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

import contract


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error is one line (exit code 2, as argparse's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python -m contract`."""
    parser = _Parser(
        prog="python -m contract",
        description="Check that this code can serve the model artifact in ARTIFACT_DIR: "
        "print its model version (exit code 0), or say in one line why not (exit code 1).",
    )
    parser.add_argument(
        "artifact_dir",
        type=Path,
        metavar="ARTIFACT_DIR",
        help="directory with metadata.json and model.onnx (e.g. artifacts/model)",
    )
    return parser


def main(argv: list[str]) -> int:
    """Check the artifact directory named in `argv`; return the exit code."""
    directory: Path = build_parser().parse_args(argv).artifact_dir
    try:
        metadata = contract.read_metadata(directory)
        contract.read_verified(directory, metadata.files, contract.ONNX_FILE)
    except contract.ArtifactError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(metadata.model_version)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
