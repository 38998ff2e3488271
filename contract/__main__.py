"""`python -m contract DIR`: can this code serve the artifact in DIR? Prints its model version.

Exit code 0 when DIR holds a current-format artifact whose metadata satisfies the contract and
whose model.onnx has its recorded sha256; otherwise 1 and one line on stderr saying why (the
Makefile retrains on that, e.g. after an upgrade to a newer format).
"""

from __future__ import annotations

import sys
from pathlib import Path

import contract


def main(argv: list[str]) -> int:
    """Check the artifact directory named in `argv`; return the exit code."""
    if len(argv) != 1:
        print("usage: python -m contract ARTIFACT_DIR", file=sys.stderr)
        return 2
    directory = Path(argv[0])
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
