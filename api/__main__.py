"""`python -m api`: check the model artifact, then serve with uvicorn.

Every option defaults to its environment variable (HOST, PORT, MODEL_DIR, WORKERS, ...).
"""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from pydantic import ValidationError

from api import metrics_dir, shutdown
from api.artifact import ArtifactError
from api.config import Settings
from api.logs import logging_config

_log = logging.getLogger("api")


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error is one line (exit code 2, as argparse's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"python -m api: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line; an option left out means "use the environment variable or default"."""
    parser = _Parser(prog="python -m api", description="Serve the trained model over HTTP.")
    parser.add_argument("--host", help="interface to bind (env HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (env PORT, default 8000)")
    parser.add_argument(
        "--model-dir",
        help="artifact directory (env MODEL_DIR, default artifacts/model in the project)",
    )
    parser.add_argument("--workers", type=int, help="worker processes (env WORKERS, default 1)")
    parser.add_argument("--log-level", help="log level (env LOG_LEVEL, default info)")
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; None means "use the environment variable or default"."""
    return build_parser().parse_args(argv)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, by field name."""
    given = {
        "host": args.host,
        "port": args.port,
        "model_dir": args.model_dir,
        "workers": args.workers,
        "log_level": args.log_level,
    }
    return {key: value for key, value in given.items() if value is not None}


def load_settings(args: argparse.Namespace) -> Settings:
    """Environment settings with the given command-line options on top."""
    return Settings(**_overrides(args))


def _invalid(exc: ValidationError, args: argparse.Namespace) -> str:
    """One line naming what the user wrote: the option (--port) or the variable (PORT)."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    if field in _overrides(args):
        return f"invalid option --{field.replace('_', '-')}: {first['msg']}"
    return f"invalid setting {field.upper() or 'settings'}: {first['msg']}"


def _export(settings: Settings) -> None:
    # uvicorn's workers build the app from the environment (api.main:create_app), so the
    # command-line options must reach them as environment variables.
    for name, value in settings.model_dump().items():
        if value is not None:
            os.environ[name.upper()] = str(value)
    threads = str(settings.ort_intra_op_threads)
    # BLAS/OpenMP pools would otherwise size themselves from the host's CPU count.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, threads)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the service; returns the exit code (1 for a bad artifact or setting)."""
    args = parse_args(argv)
    try:
        settings = load_settings(args)
    except ValidationError as exc:
        print(f"python -m api: {_invalid(exc, args)}", file=sys.stderr)
        return 2
    logging.config.dictConfig(logging_config(settings.log_level))
    try:
        shared_dir, made_here = metrics_dir.prepare(
            settings.prometheus_multiproc_dir, settings.workers
        )
    except metrics_dir.MetricsDirError as exc:
        print(f"python -m api: {exc}", file=sys.stderr)
        return 2
    settings = settings.model_copy(update={"prometheus_multiproc_dir": shared_dir})
    _export(settings)

    # Imported late so the thread variables above are set before numpy/ORT load.
    import uvicorn

    from api.lifespan import load_predictor

    shutdown.exit_cleanly_on_sigterm()
    try:
        try:
            # Fail fast with one clear line instead of a traceback from inside uvicorn.
            load_predictor(settings.model_dir, settings.ort_intra_op_threads)
        except ArtifactError as exc:
            _log.error("cannot serve: %s", exc)
            return 1
        uvicorn.run(
            "api.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=logging_config(settings.log_level),
            log_level=settings.log_level,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
        )
    finally:
        # Several workers: uvicorn's supervisor returns here after SIGTERM or SIGINT.
        if shared_dir is not None and made_here:
            metrics_dir.remove(shared_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
