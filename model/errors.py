"""Errors the command line turns into one clear line and a non-zero exit code."""


class ModelError(Exception):
    """Base class: anything the training side reports to a user without a traceback."""

    exit_code = 1


class SpecError(ModelError):
    """A model spec is missing or breaks a rule; the message names the file and the key."""


class DataError(ModelError):
    """A data file is missing or malformed; the message names the file and line."""


class ArtifactError(ModelError):
    """A model artifact is missing, incomplete, tampered with or from another environment."""


class ExportError(ModelError):
    """The ONNX export disagrees with the fitted pipeline."""


class QualityGateError(ModelError):
    """The trained model scored below the configured thresholds."""

    exit_code = 2


class RegressionError(ModelError):
    """The challenger scored worse than the champion beyond the comparison's tolerances."""

    exit_code = 4


class NewContractError(ModelError):
    """The challenger's contract (name, features, classes) is not the champion's: the two
    cannot be scored on the same rows, so no comparison is possible."""

    exit_code = 5
