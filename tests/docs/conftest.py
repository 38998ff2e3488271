"""Fixtures of the packages whose documented facts are checked here: the Pulumi programs under
mocks (the deploy pages) and the service with a trained model (the README's example)."""

from tests.api.conftest import app, client, settings
from tests.infra.conftest import app_stack, bootstrap_stack, model_dir, prod_image, registries

__all__ = [
    "app",
    "app_stack",
    "bootstrap_stack",
    "client",
    "model_dir",
    "prod_image",
    "registries",
    "settings",
]
