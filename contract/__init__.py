"""The artifact contract between training, serving and deployment, in one place.

`python -m model train` writes an artifact directory through this package; the API and the
Pulumi program read it through this package. It depends on pydantic and the standard library
only, so the serving image can carry it without the training stack.
"""

from contract.errors import (
    ArtifactError,
    ArtifactMissingError,
    ArtifactUnreadableError,
    UnsupportedFormatError,
)
from contract.files import (
    read_header,
    read_metadata,
    read_verified,
    sha256_bytes,
    sha256_file,
    write_artifact,
)
from contract.schema import (
    CLASS_LABELS,
    CLASS_NAMES,
    CLASSES,
    FEATURES,
    FORGED,
    FORMAT_VERSION,
    GENUINE,
    METADATA_FILE,
    MODEL_CARD_FILE,
    MODEL_VERSION_PATTERN,
    ONNX_FILE,
    ONNX_INPUT,
    ONNX_LABEL_OUTPUT,
    ONNX_PROBABILITY_OUTPUT,
    PIPELINE_FILE,
    ArtifactHeader,
    ArtifactMetadata,
    ClassInfo,
    DataInfo,
    Metrics,
    OnnxInfo,
    QualityGate,
)

__all__ = [
    "CLASSES",
    "CLASS_LABELS",
    "CLASS_NAMES",
    "FEATURES",
    "FORGED",
    "FORMAT_VERSION",
    "GENUINE",
    "METADATA_FILE",
    "MODEL_CARD_FILE",
    "MODEL_VERSION_PATTERN",
    "ONNX_FILE",
    "ONNX_INPUT",
    "ONNX_LABEL_OUTPUT",
    "ONNX_PROBABILITY_OUTPUT",
    "PIPELINE_FILE",
    "ArtifactError",
    "ArtifactHeader",
    "ArtifactMetadata",
    "ArtifactMissingError",
    "ArtifactUnreadableError",
    "ClassInfo",
    "DataInfo",
    "Metrics",
    "OnnxInfo",
    "QualityGate",
    "UnsupportedFormatError",
    "read_header",
    "read_metadata",
    "read_verified",
    "sha256_bytes",
    "sha256_file",
    "write_artifact",
]
