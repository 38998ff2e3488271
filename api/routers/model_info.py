"""GET /model: what is being served, how good it is, and one example row of each class."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter

from api.deps import PredictorDep
from api.schemas import Schemas


def build_router(schemas: Schemas) -> APIRouter:
    """GET /model, answering in the loaded model's ModelInfo shape."""
    router = APIRouter(tags=["operations"])

    @router.get(
        "/model",
        response_model=schemas.model_info,
        summary="Model version, provenance and metrics",
    )
    async def model_info(predictor: PredictorDep) -> Any:
        """Version, creation time, metrics, training data hash, features, label convention and
        one example row of each class (what scripts/smoke.py sends)."""
        artifact = predictor.artifact
        metadata = artifact.metadata
        model = artifact.contract
        names = {c.value: c.name for c in model.classes}
        return schemas.model_info.model_validate(
            {
                "model_version": artifact.model_version,
                "name": model.name,
                "created_at": artifact.created_at,
                "git_commit": metadata.git_commit,
                "features": list(artifact.features),
                "classes": [
                    {"value": c.value, "name": c.name, "label": c.label} for c in model.classes
                ],
                "positive_class": model.positive_class,
                "examples": [
                    {
                        "prediction": names[example.class_value],
                        "line": example.line,
                        "features": example.values,
                    }
                    for example in model.examples
                ],
                "data_sha256": metadata.data.sha256,
                "data_rows": metadata.data.rows,
                "onnx_sha256": hashlib.sha256(artifact.onnx_bytes).hexdigest(),
                "metrics": metadata.metrics.model_dump(),
            }
        )

    return router
