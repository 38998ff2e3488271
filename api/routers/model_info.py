"""GET /model: what is being served and how good it is."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter

from api.deps import PredictorDep
from api.schemas import ModelInfo

router = APIRouter(tags=["operations"])


@router.get("/model", response_model=ModelInfo, summary="Model version, provenance and metrics")
async def model_info(predictor: PredictorDep) -> ModelInfo:
    """Version, creation time, metrics, training data hash, features and label convention."""
    artifact = predictor.artifact
    metadata = artifact.metadata
    return ModelInfo.model_validate(
        {
            "model_version": artifact.model_version,
            "created_at": artifact.created_at,
            "git_commit": metadata.git_commit,
            "features": list(artifact.features),
            "classes": [
                {"value": c.value, "name": c.name, "label": c.label} for c in artifact.classes
            ],
            "data_sha256": metadata.data.sha256,
            "data_rows": metadata.data.rows,
            "onnx_sha256": hashlib.sha256(artifact.onnx_bytes).hexdigest(),
            "metrics": metadata.metrics.model_dump(),
        }
    )
