"""Read, verify and write an artifact directory (metadata.json, model files, model card).

Readers check in this order, so the first message names the real problem: the directory and
metadata.json exist and parse; the format is one the caller reads; the schema the caller needs
holds (every problem named at once); and each file the caller uses has the sha256 recorded at
training time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from contract.errors import (
    ArtifactError,
    ArtifactMissingError,
    ArtifactUnreadableError,
    UnsupportedFormatError,
)
from contract.schema import (
    COMPARABLE_FORMATS,
    FORMAT_VERSION,
    METADATA_FILE,
    MODEL_CARD_FILE,
    ArtifactCore,
    ArtifactHeader,
    ArtifactMetadata,
)

_Model = TypeVar("_Model", bound=BaseModel)


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in blocks (data files can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_header(directory: Path) -> ArtifactHeader:
    """format_version and model_version of a current-format artifact (nothing else is read)."""
    return _read(directory, ArtifactHeader, (FORMAT_VERSION,))


def read_metadata(directory: Path) -> ArtifactMetadata:
    """The whole metadata.json of a current-format artifact, validated against the schema."""
    return _read(directory, ArtifactMetadata, (FORMAT_VERSION,))


def read_core(directory: Path) -> ArtifactCore:
    """The fields every comparable format shares, from an artifact of any of those formats."""
    return _read(directory, ArtifactCore, COMPARABLE_FORMATS)


def read_verified(directory: Path, files: Mapping[str, str], name: str) -> bytes:
    """The bytes of `name`, read once and checked against its recorded sha256."""
    expected = files.get(name)
    if expected is None:
        raise ArtifactError(f"{directory / METADATA_FILE}: no sha256 recorded for {name}")
    path = directory / name
    data = _read_bytes(path, f"{directory}: incomplete artifact, {name} is missing")
    if sha256_bytes(data) != expected:
        raise ArtifactError(
            f"{path}: sha256 does not match metadata.json; the file was changed after "
            "training, refusing to load it"
        )
    return data


def write_artifact(
    out_dir: Path, metadata: ArtifactMetadata, blobs: Mapping[str, bytes], model_card: str
) -> None:
    """Write every file to a temporary sibling directory, then swap it in place.

    `blobs` are the model files, exactly those whose hashes `metadata.files` records. A reader
    never sees a half-written artifact, and a failed write leaves the previous one intact.
    """
    actual = {name: sha256_bytes(data) for name, data in blobs.items()}
    if actual != metadata.files:
        raise ValueError(f"model files {sorted(actual)} do not match metadata.files")
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        for name, data in blobs.items():
            (staging / name).write_bytes(data)
        (staging / METADATA_FILE).write_text(metadata.model_dump_json(indent=2) + "\n")
        (staging / MODEL_CARD_FILE).write_text(model_card)
        # mkdtemp makes it 0700; the artifact is read by other users (the image runs non-root).
        os.chmod(staging, 0o755)  # noqa: S103
        previous = out_dir.with_name(f".{out_dir.name}-previous")
        if out_dir.exists():
            shutil.rmtree(previous, ignore_errors=True)
            out_dir.rename(previous)
        staging.rename(out_dir)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _read(directory: Path, schema: type[_Model], formats: Collection[int]) -> _Model:
    path = directory / METADATA_FILE
    raw = _read_json(directory)
    declared = raw.get("format_version")
    # A format this code does not read may name or shape any other field differently, so it
    # is refused on its format_version alone, before anything else is judged.
    if isinstance(declared, int) and not isinstance(declared, bool) and declared not in formats:
        names = [str(f) for f in sorted(formats)]
        readable = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        hint = " (retrain it: make train)" if declared < min(formats) else ""
        raise UnsupportedFormatError(
            f"{path}: format_version {declared}, this code reads format_version {readable}{hint}",
            declared,
        )
    return _validate(schema, raw, path)


def _read_json(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        problem = "is not a directory" if directory.exists() else "does not exist"
        raise ArtifactMissingError(
            f"{directory} {problem}: no model artifact here (train one: make train)"
        )
    path = directory / METADATA_FILE
    raw = _read_bytes(path, f"{directory}: incomplete artifact, {METADATA_FILE} is missing")
    try:
        metadata = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactUnreadableError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(metadata, dict):
        raise ArtifactUnreadableError(f"{path}: not a JSON object")
    return metadata


def _read_bytes(path: Path, missing: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        error_type = ArtifactMissingError if path.name == METADATA_FILE else ArtifactError
        raise error_type(missing) from None
    except OSError as error:
        raise ArtifactUnreadableError(f"{path}: cannot read it ({error.strerror})") from None


def _validate(schema: type[_Model], raw: dict[str, Any], path: Path) -> _Model:
    try:
        return schema.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"no usable {'.'.join(str(part) for part in e['loc'])!r} ({e['msg']})"
            for e in error.errors(include_url=False)
        )
        raise ArtifactError(f"{path}: {problems}") from None
