"""Smoke test of a running model service, wherever it runs.

    python scripts/smoke.py URL [--model-version VERSION] [--wait SECONDS] [--summary FILE]

Waits until URL/ready answers 200 (a fresh Azure container takes a while), then checks:
GET / answers the exact greeting, GET /ready is 200, GET /model reports VERSION (when given),
and POST /predict classifies each of the examples GET /model lists (one row of each class from
the model's training data, recorded in its artifact) as that class. The script knows no
model's features or classes: the service's own /model names them. Prints one line per check;
writes a Markdown table to FILE or, in GitHub Actions, to $GITHUB_STEP_SUMMARY; exits 1 if any
check failed, 2 on bad arguments. Standard library only, so it runs from any Python 3.11 without
the project's virtualenv: the deploy stage runs it against the stack's URL, and a developer can
run it against a local `make run` or their own stack.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

GREETING = {"message": "FastAPI zegt Hallo Wereld"}
REQUEST_TIMEOUT_S = 10.0


class CheckError(Exception):
    """A check's expectation did not hold; the message says what was seen."""


@dataclass(frozen=True)
class Response:
    """What a request returned: status and the body parsed as JSON (None if it was not JSON)."""

    status: int
    body: Any


@dataclass(frozen=True)
class Result:
    """One check's outcome."""

    name: str
    ok: bool
    detail: str


def request(base_url: str, method: str, path: str, payload: object | None = None) -> Response:
    """Send one request; HTTP error statuses are returned, connection errors raise OSError."""
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s) in main()
        base_url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as reply:  # noqa: S310
            status, raw = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        body = json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    return Response(status, body)


@dataclass(frozen=True)
class Example:
    """A row GET /model lists, with the class the model must answer for it."""

    prediction: str
    features: dict[str, Any]
    line: object


def predicted_class(body: Any) -> str | None:
    """The class a /predict answer names in `prediction`."""
    value = body.get("prediction") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def examples_of(body: Any) -> list[Example]:
    """The examples in a GET /model answer (none if it lists none usable)."""
    listed = body.get("examples") if isinstance(body, dict) else None
    return [
        Example(item["prediction"], item["features"], item.get("line", "?"))
        for item in listed or ()
        if isinstance(item, dict)
        and isinstance(item.get("prediction"), str)
        and isinstance(item.get("features"), dict)
    ]


def wait_until_ready(base_url: str, wait_s: float, interval_s: float = 5.0) -> str:
    """Poll /ready until it answers 200 or wait_s has passed; returns what was last seen."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            seen = f"status {request(base_url, 'GET', '/ready').status}"
            if seen == "status 200":
                return seen
        except OSError as error:
            seen = f"no answer ({error})"
        if time.monotonic() + interval_s > deadline:
            return seen
        time.sleep(interval_s)


def run_checks(base_url: str, model_version: str | None) -> list[Result]:
    """Run every check against base_url (already ready or given up on) and collect results."""

    def greeting() -> str:
        reply = request(base_url, "GET", "/")
        if reply.status != 200 or reply.body != GREETING:
            raise CheckError(f"status {reply.status}, body {reply.body!r}")
        return "exact greeting"

    def ready() -> str:
        reply = request(base_url, "GET", "/ready")
        if reply.status != 200:
            raise CheckError(f"status {reply.status}, body {reply.body!r}")
        return "200"

    examples: list[Example] = []

    def model() -> str:
        reply = request(base_url, "GET", "/model")
        version = reply.body.get("model_version") if isinstance(reply.body, dict) else None
        if reply.status != 200 or not isinstance(version, str):
            raise CheckError(f"status {reply.status}, body {reply.body!r}")
        examples.extend(examples_of(reply.body))
        if model_version is not None and version != model_version:
            raise CheckError(f"serves {version}, expected {model_version}")
        return version

    def predict(example: Example) -> Callable[[], str]:
        def check() -> str:
            reply = request(base_url, "POST", "/predict", example.features)
            got = predicted_class(reply.body)
            if reply.status != 200 or got != example.prediction:
                raise CheckError(f"status {reply.status}, body {reply.body!r}")
            return f"{got} (training data line {example.line})"

        return check

    def no_examples() -> str:
        raise CheckError("GET /model listed no examples to send")

    results = _run([("GET / greeting", greeting), ("GET /ready", ready)])
    results += _run([("GET /model version", model)])
    # One check per class, named after it: the rows come from the service's own /model.
    predictions = [(f"POST /predict {e.prediction} example", predict(e)) for e in examples]
    return results + _run(predictions or [("POST /predict examples", no_examples)])


def _run(checks: list[tuple[str, Callable[[], str]]]) -> list[Result]:
    results = []
    for name, check in checks:
        try:
            results.append(Result(name, True, check()))
        except CheckError as error:
            results.append(Result(name, False, str(error)))
        except OSError as error:
            results.append(Result(name, False, f"no answer ({error})"))
    return results


def markdown(base_url: str, results: list[Result]) -> str:
    """The results as a Markdown section for a job summary."""
    verdict = "passed" if all(r.ok for r in results) else "FAILED"
    lines = [f"### Smoke test of {base_url} {verdict}", "", "| Check | Result | Detail |"]
    lines.append("|---|---|---|")
    for r in results:
        detail = r.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r.name} | {'pass' if r.ok else '**FAIL**'} | {detail} |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="base URL of the service, e.g. http://127.0.0.1:8000/")
    parser.add_argument("--model-version", help="model_version GET /model must report")
    parser.add_argument(
        "--wait", type=float, default=300.0, help="seconds to wait for /ready (default 300)"
    )
    parser.add_argument("--summary", type=Path, help="append a Markdown table to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    args = build_parser().parse_args(argv)

    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        print(f"smoke: url must be an http(s) URL with a host, got {args.url!r}", file=sys.stderr)
        return 2
    if args.wait < 0:
        print("smoke: --wait must not be negative", file=sys.stderr)
        return 2
    base_url = args.url.rstrip("/")

    print(f"smoke: waiting up to {args.wait:g} s for {base_url}/ready: ", end="", flush=True)
    print(wait_until_ready(base_url, args.wait, interval_s=min(5.0, max(args.wait / 10, 0.1))))
    results = run_checks(base_url, args.model_version)
    for r in results:
        print(f"{'PASS' if r.ok else 'FAIL'} {r.name}: {r.detail}")

    summary = args.summary or (Path(p) if (p := os.environ.get("GITHUB_STEP_SUMMARY")) else None)
    if summary is not None:
        with summary.open("a", encoding="utf-8") as out:
            out.write(markdown(base_url, results))
    failed = sum(not r.ok for r in results)
    if failed:
        print(
            f"smoke: {failed} of {len(results)} checks failed against {base_url}", file=sys.stderr
        )
        return 1
    print(f"smoke: all {len(results)} checks passed against {base_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
