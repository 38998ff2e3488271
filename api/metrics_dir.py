"""The directory where several workers share their metrics (prometheus-client's multiprocess files).

prometheus-client asks for a directory that is wiped between runs, so that counters never
carry over from an earlier start. Without one configured, each multi-worker start gets a fresh
private directory on /dev/shm: a tmpfs that Docker mounts even with `--read-only`, so the
image needs no writable path. It is removed when the service stops.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

# Docker mounts a tmpfs here in every container, also with --read-only (its default 64 MB
# holds thousands of these files of a few kB).
TMPFS = Path("/dev/shm")  # noqa: S108 - a per-start private directory is made inside it
PREFIX = "api-metrics-"


class MetricsDirError(Exception):
    """No usable directory for the workers' shared metrics."""


def prepare(configured: Path | None, workers: int) -> tuple[Path | None, bool]:
    """The directory to share metrics in (None: one worker, keep them in process).

    Returns it with True when it was made here and is to be removed at exit (`remove`).
    A configured directory is created if missing and its metric files are wiped.
    """
    if configured is not None:
        _wipe(configured)
        return configured, False
    if workers == 1:
        return None, False
    for base in (TMPFS, None):  # None: the temporary directory, looked up only if needed
        try:
            # gettempdir() itself raises when no candidate is writable (a read-only root).
            where = base if base is not None else Path(tempfile.gettempdir())
            return Path(tempfile.mkdtemp(prefix=PREFIX, dir=where)), True
        except OSError:
            continue
    raise MetricsDirError(
        f"{workers} workers share their metrics through files, but neither {TMPFS} nor a "
        "temporary directory is writable; set PROMETHEUS_MULTIPROC_DIR to a writable "
        "directory (a tmpfs)"
    )


def remove(directory: Path) -> None:
    """Delete a directory made by `prepare`, with its files."""
    shutil.rmtree(directory, ignore_errors=True)


def _wipe(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path in directory.glob("*.db"):
            path.unlink()
        with tempfile.TemporaryFile(dir=directory):  # proves the workers can write here
            pass
    except OSError as exc:
        raise MetricsDirError(
            f"PROMETHEUS_MULTIPROC_DIR {directory} is not a writable directory: "
            f"{exc.strerror or exc}"
        ) from None
