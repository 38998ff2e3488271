"""Why an artifact directory cannot be used; every message names the file and the problem."""


class ArtifactError(Exception):
    """An artifact is incomplete, tampered with, malformed or breaks the contract."""


class ArtifactMissingError(ArtifactError):
    """There is no artifact: the directory or its metadata.json does not exist."""


class ArtifactUnreadableError(ArtifactError):
    """A file exists but cannot be read or parsed (permissions, not JSON, not an object)."""


class UnsupportedFormatError(ArtifactError):
    """metadata.json declares a format version this code does not read."""

    def __init__(self, message: str, format_version: object) -> None:
        super().__init__(message)
        self.format_version = format_version
