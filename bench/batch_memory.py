"""Peak memory of offline batch scoring (`python -m model predict`) as the input grows.

Scores generated files of 100,000 and 1,000,000 rows in separate processes and prints each
run's peak RSS (from the kernel's per-child accounting) and their ratio. Streaming in chunks
means 10x the rows should cost about the same memory: a ratio near 1, not near 10.

    .venv/bin/python bench/batch_memory.py [--model artifacts/model]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def write_notes(path: Path, rows: int) -> None:
    rng = np.random.default_rng(rows)
    features = rng.normal([0.4, 1.9, 1.4, -1.2], [2.8, 5.9, 4.3, 2.1], size=(rows, 4))
    with path.open("w") as handle:
        handle.write("variance,skewness,curtosis,entropy\n")
        np.savetxt(handle, features, delimiter=",", fmt="%.5f")


def score(model: Path, source: Path, output: Path) -> tuple[float, float]:
    """Run one scoring process; return (peak RSS in MiB, seconds)."""
    command = [sys.executable, "-m", "model", "predict", "--model", str(model),
               "--input", str(source), "--output", str(output)]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"batch scoring failed with exit code {process.returncode}")
    return usage.ru_maxrss / 1024, elapsed  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "artifacts" / "model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for rows in (100_000, 1_000_000):
            source = Path(tmp) / f"notes-{rows}.csv"
            write_notes(source, rows)
            results[rows] = score(args.model, source, Path(tmp) / f"scored-{rows}.csv")
            peak, seconds = results[rows]
            print(f"batch scoring {rows:>9,} rows: peak RSS {peak:6.1f} MiB, "
                  f"{seconds:5.2f} s, {rows / seconds:,.0f} rows/s")  # fmt: skip
        ratio = results[1_000_000][0] / results[100_000][0]
        print(f"peak RSS ratio 1,000,000 / 100,000 rows: {ratio:.2f}x (bounded memory: ~1x)")


if __name__ == "__main__":
    main()
