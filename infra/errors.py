"""The one error type the Pulumi programs raise for bad configuration or missing inputs."""

import pulumi


class ConfigError(pulumi.RunError):
    """Bad stack configuration or a missing input file.

    A subclass of `pulumi.RunError` so that the Pulumi CLI prints just the message, not a
    traceback. Raised before any resource is declared.
    """
