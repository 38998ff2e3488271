"""Service settings, read once from environment variables (no prefix) and validated."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["critical", "error", "warning", "info", "debug"]
# The checkout (or the image's /app) that holds api/: the default model directory is found from
# here, as training's is (model/config.py), so the service starts from any working directory.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything an operator can set. Env var names are the field names in upper case."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    host: str = Field(
        default="127.0.0.1", description="Interface to bind (the container uses 0.0.0.0)."
    )
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port to listen on.")
    model_dir: Path = Field(
        default=PROJECT_ROOT / "artifacts" / "model",
        description="Artifact directory (metadata.json + model.onnx); a relative path is "
        "taken from the working directory.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="uvicorn worker processes; each loads its own model copy.",
    )
    log_level: LogLevel = Field(default="info", description="Log level of the JSON logs.")
    max_batch_rows: int = Field(
        default=10_000, ge=1, le=1_000_000, description="Most rows accepted by /predict/batch."
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
            "Most concurrent /predict rows scored in one model call (1: one call per request)."
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
    # Drain + in-flight + 2 s to exit fit the 10 s that `docker stop` waits before SIGKILL;
    # Container Apps gets its own pair from the Pulumi program (infra/containerapp.py).
    shutdown_drain_seconds: int = Field(
        default=3,
        ge=0,
        le=300,
        description=(
            "After SIGTERM, how long /ready answers 503 while every request is still served, so "
            "the platform stops routing here before the listener closes."
        ),
    )
    graceful_shutdown_seconds: int = Field(
        default=5,
        ge=0,
        le=300,
        description="After the drain, how long requests in flight may run before they are cut.",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment, read once per process."""
    return Settings()
