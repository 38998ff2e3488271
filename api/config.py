"""Service settings, read once from environment variables (no prefix) and validated."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["critical", "error", "warning", "info", "debug"]


class Settings(BaseSettings):
    """Everything an operator can set. Env var names are the field names in upper case."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    host: str = Field(
        default="127.0.0.1", description="Interface to bind (the container uses 0.0.0.0)."
    )
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port to listen on.")
    model_dir: Path = Field(
        default=Path("artifacts/model"),
        description="Artifact directory (metadata.json + model.onnx).",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="uvicorn worker processes; each loads its own model copy.",
    )
    log_level: LogLevel = Field(default="info", description="Log level of the JSON logs.")
    max_batch_rows: int = Field(
        default=10_000, ge=1, le=1_000_000, description="Most notes accepted by /predict/batch."
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="Largest request body in bytes; larger bodies get 413.",
    )
    coalesce_max_rows: int = Field(
        default=256,
        ge=1,
        le=10_000,
        description=(
            "Most concurrent /predict notes scored in one model call (1: one call per request)."
        ),
    )
    drift_metrics: bool = Field(
        default=True,
        description=(
            "Count each input against the model's training ranges and quantiles (per-feature "
            "series in /metrics)."
        ),
    )
    ort_intra_op_threads: int = Field(
        default=1, ge=1, le=64, description="ONNX Runtime threads per model call (per worker)."
    )
    prometheus_multiproc_dir: Path | None = Field(
        default=None,
        description=(
            "Directory where the workers share their metrics (prometheus-client's multiprocess "
            "files); wiped at start. Unset: a private one is made on /dev/shm when workers > 1."
        ),
    )
    # Below the 10 s that `docker stop` (and most platforms) wait before SIGKILL.
    graceful_shutdown_seconds: int = Field(
        default=8, ge=0, le=300, description="How long in-flight requests may run after SIGTERM."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment, read once per process."""
    return Settings()
