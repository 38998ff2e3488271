"""The service image: built from the repository's Dockerfile and pushed to the registry, or, with
config `image`, a known image by digest that is deployed as it is (infra/pinned_image.py)."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker
from pulumi_azure_native import authorization

from infra import acr_token, artifact, paths, pinned_image
from infra.config import AppConfig

# Build context and Dockerfile as absolute paths: the provider plugin runs in the program's
# working directory, infra/ (infra/paths.py), and resolves relative ones from there; a relative
# Dockerfile fails with "could not open dockerfile at relative path Dockerfile" (pulumi-docker
# issues #572 and #844, closed by design: pass an absolute path).
CONTEXT = str(paths.PROJECT_ROOT)
DOCKERFILE = str(paths.DOCKERFILE)
PLATFORM = "linux/amd64"  # what Azure Container Instances runs, whatever the build machine is


def build_args(cfg: AppConfig, model_version: str) -> dict[str, str]:
    """Build arguments: revision, the model's version and name (the image's labels), and the
    base image only when configured."""
    args = {
        "REVISION": cfg.git_commit or "unknown",
        "MODEL_VERSION": model_version,
        "MODEL_NAME": artifact.read_header(cfg.model_dir).model_name,
    }
    if cfg.base_image:
        args["BASE_IMAGE"] = cfg.base_image
    return args


def push_credentials(login_server: pulumi.Output[str], tenant_id: str) -> docker.RegistryArgs:
    """Registry credentials from the deployer's Entra ID login, exchanged at deploy time.

    Used whatever `registryAuth` is: pushing is the deployer's business, pulling the container
    group's. Previews push nothing, so they skip the exchange.
    """
    token = authorization.get_client_token_output().token

    def refresh_token(args: list[str]) -> str:
        server, aad_token = args
        if pulumi.runtime.is_dry_run():
            return "preview"
        return acr_token.exchange(server, tenant_id, aad_token)

    password = pulumi.Output.all(login_server, token).apply(refresh_token)
    return docker.RegistryArgs(
        server=login_server,
        username=acr_token.TOKEN_USER,
        password=pulumi.Output.secret(password),
    )


def build_and_push(
    cfg: AppConfig,
    model_version: str,
    login_server: pulumi.Output[str],
    tenant_id: str,
    opts: pulumi.ResourceOptions | None = None,
) -> docker.Image:
    """Build the image for linux/amd64, tag it with the model version, and push it.

    The provider rebuilds only when the build context or arguments change; the container
    group uses `repo_digest`, so an unchanged image means no new deployment.
    """
    return docker.Image(
        "image",
        image_name=pulumi.Output.concat(login_server, "/", cfg.image_name, ":", model_version),
        build=docker.DockerBuildArgs(
            context=CONTEXT,
            dockerfile=DOCKERFILE,
            platform=PLATFORM,
            args=build_args(cfg, model_version),
        ),
        registry=push_credentials(login_server, tenant_id),
        opts=opts,
    )


def model_version(cfg: AppConfig, registry_name: str, tenant_id: str) -> str:
    """The model version the stack will serve, known before anything is declared.

    Built from the artifact: its metadata.json. A known image (config `image`): the label in its
    registry, read with the deployer's Entra ID login (previews too, so a wrong or missing
    image fails there); the image must be in the stack's own registry.
    """
    if cfg.image is None:
        return artifact.read_model_version(cfg.model_dir)
    pinned_image.check_registry(cfg.image, registry_name)
    token = authorization.get_client_token().token
    return pinned_image.read_model_version(cfg.image, tenant_id, token)


def service_image(
    cfg: AppConfig, version: str, login_server: pulumi.Output[str], tenant_id: str
) -> pulumi.Input[str]:
    """The image reference the container group runs, always by digest.

    With config `image` no docker.Image is declared: nothing is built or pushed. Leaving out a
    docker.Image that an earlier update declared deletes it from the state only; the provider's
    Delete is a no-op, so the image stays in the registry (pulumi/pulumi-docker
    provider/provider.go `Delete`; issue #588, "images aren't deleted on destroy").
    """
    if cfg.image is not None:
        return str(cfg.image)
    return build_and_push(cfg, version, login_server, tenant_id).repo_digest
