"""Container benchmark: what the image adds over its base, and how fast it becomes ready.

    .venv/bin/python bench/container_bench.py [--image banknote-api:local] [--starts 5]
                                              [--json bench/results/container.json]

Needs a Docker engine and the built image (`make image`). The base is read from the image's
org.opencontainers.image.base.name label, so the added size is measured the same way on any
machine. Start-to-ready is wall time from `docker run` to the first 200 from /ready (host network,
read-only root, as the container tests run it). Figures are reported, not asserted: this machine
is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

BASE_LABEL = "org.opencontainers.image.base.name"
ADDED_BUDGET_MB = 200.0
READY_BUDGET_S = 3.0
READY_TIMEOUT_S = 60.0
MB = 1_000_000  # docker reports decimal megabytes


class BenchError(Exception):
    """A benchmark precondition failed; the message is the one line the user sees."""


def docker(*args: str) -> str:
    """Run the docker CLI and return its stdout; a failure becomes a BenchError."""
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(f"docker {' '.join(args[:2])}: {result.stderr.strip()}")
    return result.stdout


def image_size(image: str) -> int:
    """Uncompressed size of an image in bytes."""
    return int(docker("image", "inspect", "--format", "{{.Size}}", image))


def history(image: str) -> list[tuple[int, str]]:
    """(size in bytes, instruction) per layer, newest first."""
    out = docker(
        "history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", image
    )
    rows = [line.split("\t", 1) for line in out.splitlines() if line]
    return [(int(size), created_by) for size, created_by in rows]


def describe(instruction: str) -> str:
    """A layer's instruction, short: no shell prefix, no content hashes."""
    # Legacy builder: "|2 ARG=v ARG=v /bin/sh -c cmd" for RUN, "/bin/sh -c #(nop) COPY ..." else.
    instruction = re.sub(r"^(\|\d+ (\S+=\S* )*)?/bin/sh -c (#\(nop\) )?\s*", "", instruction)
    instruction = re.sub(r"([a-z]+):[0-9a-f]{64}", r"\1:...", instruction)
    return " ".join(instruction.split())[:100]


def added_size(image: str, top: int) -> dict[str, Any]:
    """Bytes the image adds over the base named in its label, with its largest layers."""
    labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", image))
    base = (labels or {}).get(BASE_LABEL)
    if not base:
        raise BenchError(f"{image} has no {BASE_LABEL} label")
    layers = history(image)
    own_layers = layers[: len(layers) - len(history(base))]
    largest = sorted((layer for layer in own_layers if layer[0] > 0), reverse=True)[:top]
    image_bytes, base_bytes = image_size(image), image_size(base)
    return {
        "image": image,
        "base": base,
        "image_bytes": image_bytes,
        "base_bytes": base_bytes,
        "added_bytes": image_bytes - base_bytes,
        "largest_layers": [{"bytes": n, "instruction": describe(step)} for n, step in largest],
    }


# Runs inside the image: bytes per top-level entry of the venv's site-packages.
_PACKAGE_SIZES = """
import json, os, sysconfig
root = sysconfig.get_paths()["purelib"]
def size(path):
    if not os.path.isdir(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
print(json.dumps({name: size(os.path.join(root, name)) for name in os.listdir(root)}))
"""


def venv_packages(image: str, top: int) -> list[dict[str, Any]]:
    """The largest entries of the image's site-packages (what the venv layer is made of)."""
    out = docker(
        "run", "--rm", "--network", "host", "--entrypoint", "python", image, "-c", _PACKAGE_SIZES
    )  # fmt: skip
    sizes: dict[str, int] = json.loads(out)
    largest = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:top]
    return [{"name": name, "bytes": size} for name, size in largest]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def ready(url: str) -> bool:
    """True when `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:  # noqa: S310 (loopback URL)
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def start_to_ready(image: str) -> float:
    """Seconds from `docker run` until /ready answers 200 (the container is removed after)."""
    port = free_port()
    started = time.perf_counter()
    cid = docker(
        "run", "--detach", "--network", "host", "--read-only",
        "--env", "HOST=127.0.0.1", "--env", f"PORT={port}", image,
    ).strip()  # fmt: skip
    try:
        while not ready(f"http://127.0.0.1:{port}/ready"):
            if time.perf_counter() - started > READY_TIMEOUT_S:
                raise BenchError(
                    f"/ready not 200 after {READY_TIMEOUT_S:.0f}s: {docker('logs', cid)}"
                )
            time.sleep(0.01)
        return time.perf_counter() - started
    finally:
        docker("rm", "--force", cid)


def report(size: dict[str, Any], starts: list[float]) -> str:
    """The human-readable summary."""
    added_mb = size["added_bytes"] / MB
    median = statistics.median(starts)
    lines = [
        f"image {size['image']}: {size['image_bytes'] / MB:.1f} MB on base {size['base']} "
        f"({size['base_bytes'] / MB:.1f} MB)",
        f"added over base: {added_mb:.1f} MB (budget {ADDED_BUDGET_MB:.0f} MB: "
        f"{'ok' if added_mb <= ADDED_BUDGET_MB else 'OVER'})",
        "largest added layers:",
        *(
            f"  {layer['bytes'] / MB:8.1f} MB  {layer['instruction']}"
            for layer in size["largest_layers"]
        ),
        "largest packages in the venv:",
        *(f"  {pkg['bytes'] / MB:8.1f} MB  {pkg['name']}" for pkg in size["largest_packages"]),
        f"start to /ready 200 over {len(starts)} starts: median {median:.2f} s "
        f"(min {min(starts):.2f}, max {max(starts):.2f}; budget {READY_BUDGET_S:.0f} s: "
        f"{'ok' if median <= READY_BUDGET_S else 'OVER'})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print, optionally write JSON; 1 with one line on a failed precondition."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="banknote-api:local")
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--top", type=int, default=5, help="largest layers and packages to list")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.starts < 1:
        parser.error("--starts must be at least 1")
    try:
        size = added_size(args.image, args.top)
        size["largest_packages"] = venv_packages(args.image, args.top)
        starts = [start_to_ready(args.image) for _ in range(args.starts)]
    except (BenchError, FileNotFoundError) as exc:
        print(f"container_bench: {exc}", file=sys.stderr)
        return 1
    print(report(size, starts))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {**size, "start_to_ready_s": starts, "median_s": statistics.median(starts)}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
