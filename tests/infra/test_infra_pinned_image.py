"""Config `image`: a known image by digest is deployed as it is, and nothing is built.

The app program runs whole under Pulumi's mocks (tests/infra/pulumi_harness.py); the image's
registry is a fake ACR on 127.0.0.1 (tests/infra/fake_registry.py) that the program reads over
real HTTP, so the label it exports as model_version really comes from the image's config blob.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from infra import pinned_image, registry_read
from infra.config import parse
from infra.errors import ConfigError
from tests.infra.conftest import Registries
from tests.infra.fake_registry import FakeRegistry, digest_of, serve
from tests.infra.pulumi_harness import (
    CONTAINER_GROUP,
    IMAGE,
    REGISTRY,
    ROOT,
    TENANT_ID,
    ProgramRun,
    plain,
    run_app,
)

AppStack = Callable[..., ProgramRun]
OLD_VERSION = "20261101T120000Z-1234567-abcdef"
LABEL = pinned_image.MODEL_VERSION_LABEL


def image_in(registry: FakeRegistry, labels: dict[str, str] | None, index: bool = False) -> str:
    digest = registry.add_image("banknote-api", labels, index=index)
    return f"{registry.login_server}/banknote-api@{digest}"


def container_image(run: ProgramRun) -> str:
    (container,) = plain(run.one(CONTAINER_GROUP).inputs)["containers"]
    return str(container["image"])


@pytest.mark.parametrize("stack", ["dev", "alice"])
def test_a_known_image_is_deployed_by_digest_and_nothing_is_built(
    app_stack: AppStack, registries: Registries, stack: str
) -> None:
    registry = registries.of_stack(stack)
    reference = image_in(registry, {LABEL: OLD_VERSION, "org.opencontainers.image.revision": "x"})
    run = app_stack(stack, image=reference)
    assert run.error is None, run.error
    assert run.of_type(IMAGE) == []  # no docker.Image: no build, no push
    assert container_image(run) == reference
    assert run.exports["image"] == reference
    assert run.exports["model_version"] == OLD_VERSION
    # The registry the image names is the stack's own, the one its identity may pull from.
    assert run.one(REGISTRY).state["loginServer"] == registry.login_server


def test_the_version_is_read_from_the_label_with_the_deployers_login(
    registries: Registries, model_dir: Path
) -> None:
    registry = registries.of_stack("pr-77")
    reference = image_in(registry, {LABEL: OLD_VERSION})
    digest = reference.rsplit("@", 1)[1]
    seen = len(registry.requests)
    run = run_app(
        "pr-77",
        {"resourceGroup": "rg-banknote_pr", "modelDir": str(model_dir), "image": reference},
        registries=registries.routes,
    )
    assert run.error is None, run.error
    requests = registry.requests[seen:]
    exchange, token, manifest, blob, storage = requests
    # Azure/acr docs/AAD-OAuth.md: the Entra ID token for an ACR refresh token, then a pull
    # token for the one repository.
    assert exchange["path"] == "/oauth2/exchange"
    assert exchange["form"] == {
        "grant_type": "access_token",
        "service": registry.login_server,
        "tenant": TENANT_ID,
        "access_token": "entra-access-token",
    }
    assert token["path"] == "/oauth2/token"
    assert token["form"]["scope"] == "repository:banknote-api:pull"
    assert manifest["path"] == f"/v2/banknote-api/manifests/{digest}"
    assert blob["path"].startswith("/v2/banknote-api/blobs/sha256:")
    # The blob read followed the redirect to storage without the registry's token.
    assert storage["path"].startswith("storage:/banknote-api/sha256:")
    assert "authorization" not in storage["headers"]
    assert run.exports["model_version"] == OLD_VERSION


def test_an_image_index_is_read_through_its_linux_amd64_manifest(
    app_stack: AppStack, registries: Registries
) -> None:
    # What buildx pushes with provenance on: an index of the image and an attestation.
    version = "20261102T000000Z-7654321-fedcba"
    reference = image_in(registries.of_stack("alice"), {LABEL: version}, index=True)
    run = app_stack("alice", image=reference)
    assert run.error is None, run.error
    assert container_image(run) == reference
    assert run.exports["model_version"] == version


def test_no_artifact_is_needed_to_deploy_a_known_image(
    registries: Registries, tmp_path: Path
) -> None:
    reference = image_in(registries.of_stack("alice"), {LABEL: OLD_VERSION})
    run = run_app(
        "alice",
        {"modelDir": str(tmp_path / "nowhere"), "image": reference},
        registries=registries.routes,
    )
    assert run.error is None, run.error
    assert run.exports["model_version"] == OLD_VERSION


def test_a_preview_reads_the_image_too(registries: Registries, model_dir: Path) -> None:
    # A wrong version must fail in the preview, not half-way through an update.
    registry = registries.of_stack("alice")
    missing = f"{registry.login_server}/banknote-api@sha256:{'0' * 64}"
    run = run_app(
        "alice", {"modelDir": str(model_dir), "image": missing},
        registries=registries.routes, preview=True,
    )  # fmt: skip
    assert isinstance(run.error, ConfigError)
    assert "HTTP 404 MANIFEST_UNKNOWN" in str(run.error)
    assert run.resources == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("banknote-api:20261101T120000Z-1234567-abcdef", "it names no digest"),
        ("reg.azurecr.io/banknote-api:v1", "it names no digest"),
        ("reg.azurecr.io/banknote-api:v1@sha256:" + "a" * 64, "drop the tag"),
        ("banknote-api@sha256:" + "a" * 64, "it names no registry host"),
        ("reg/banknote-api@sha256:" + "a" * 64, "it names no registry host"),
        ("reg.azurecr.io/banknote-api@sha256:" + "a" * 63, "64 hex digits"),
        ("reg.azurecr.io/banknote-api@sha256:" + "A" * 64, "64 hex digits"),
        ("reg.azurecr.io/Banknote-API@sha256:" + "a" * 64, "lower-case"),
        ("reg.azurecr.io/banknote-api@md5:" + "a" * 32, "sha256 digest"),
        ("reg.azurecr.io/banknote-api@sha256:" + "a" * 64 + "\nx", "64 hex digits"),
    ],
)
def test_bad_references_are_one_clear_line(text: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"image": text}, project="banknote", stack="alice", env={})
    message = str(caught.value)
    assert message.startswith(f"config image={text.strip()!r} is invalid: ")
    assert why in message
    assert "\n" not in message
    assert pinned_image.EXAMPLE in message


def test_a_bad_reference_stops_the_program_before_anything(app_stack: AppStack) -> None:
    run = app_stack("dev", image="banknote-api@sha256:" + "a" * 64)
    assert isinstance(run.error, ConfigError)
    assert str(run.error).startswith("config image='banknote-api@sha256:")
    assert run.resources == []
    assert run.calls == []  # not even an Azure lookup


def test_a_good_reference_is_parsed() -> None:
    digest = "sha256:" + "0123456789abcdef" * 4
    cfg = parse(
        {"image": f"banknotedev1a2b3c4d.azurecr.io/team/banknote-api@{digest}"},
        project="banknote",
        stack="dev",
        env={},
    )
    assert cfg.image == pinned_image.ImageReference(
        "banknotedev1a2b3c4d.azurecr.io", "team/banknote-api", digest
    )
    assert str(cfg.image) == f"banknotedev1a2b3c4d.azurecr.io/team/banknote-api@{digest}"
    assert parse({}, project="banknote", stack="dev", env={}).image is None


def test_an_image_in_another_stacks_registry_is_refused(
    app_stack: AppStack, registries: Registries
) -> None:
    # dev's image into alice's stack: alice's pull identity has AcrPull on alice's registry only.
    reference = image_in(registries.of_stack("dev"), {LABEL: OLD_VERSION})
    run = app_stack("alice", image=reference)
    assert isinstance(run.error, ConfigError)
    message = str(run.error)
    assert message.startswith(f"config image={reference!r} is invalid: it is in ")
    assert registries.of_stack("alice").login_server.split(".")[0] in message
    assert "az acr import" in message
    assert "\n" not in message
    assert run.resources == []


@pytest.mark.parametrize(
    ("labels", "needle"),
    [
        (None, "no usable mlops.model.version label ('none')"),
        ({"org.opencontainers.image.title": "x"}, "('none')"),
        ({LABEL: "unknown"}, "('unknown')"),  # the Dockerfile's default: built by hand
        ({LABEL: "not a version"}, "('not a version')"),
    ],
)
def test_an_image_without_a_model_version_is_refused(
    app_stack: AppStack, registries: Registries, labels: dict[str, str] | None, needle: str
) -> None:
    reference = image_in(registries.of_stack("alice"), labels)
    run = app_stack("alice", image=reference)
    assert isinstance(run.error, ConfigError)
    assert needle in str(run.error)
    assert "it was not built by this project's pipeline" in str(run.error)
    assert run.resources == []


def test_content_that_does_not_match_its_digest_is_refused(
    app_stack: AppStack, registries: Registries
) -> None:
    registry = registries.of_stack("alice")
    good = image_in(registry, {LABEL: OLD_VERSION}).rsplit("@", 1)[1]
    # A registry (or anything between) answering other bytes under that digest.
    body, media_type = registry.blobs["banknote-api"][good]
    forged = body.replace(b'"layers": []', b'"layers": [], "x": 1')
    fake_digest = "sha256:" + "f" * 64
    registry.blobs["banknote-api"][fake_digest] = (forged, media_type)
    run = app_stack("alice", image=f"{registry.login_server}/banknote-api@{fake_digest}")
    assert isinstance(run.error, ConfigError)
    assert f"has digest {digest_of(forged)}, not {fake_digest}" in str(run.error)


def test_the_label_is_the_one_the_dockerfile_sets() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(rf'^\s*{re.escape(LABEL)}="\$\{{MODEL_VERSION\}}"', dockerfile, re.M)
    assert "ARG MODEL_VERSION=unknown" in dockerfile
    name = re.escape(pinned_image.MODEL_NAME_LABEL)
    assert re.search(rf'^\s*{name}="\$\{{MODEL_NAME\}}"', dockerfile, re.M)
    assert "ARG MODEL_NAME=unknown" in dockerfile
    # The key images built before the model spec carry is no longer written, only read.
    assert pinned_image.LEGACY_MODEL_VERSION_LABEL not in dockerfile


@pytest.mark.parametrize("stack", ["dev", "alice"])
def test_an_image_built_before_the_model_spec_still_deploys(
    app_stack: AppStack, registries: Registries, stack: str
) -> None:
    # Every image in a registry today is labelled banknote.model.version only: a rollback to one
    # of them (config `image`) must deploy it and report its version.
    reference = image_in(
        registries.of_stack(stack), {pinned_image.LEGACY_MODEL_VERSION_LABEL: OLD_VERSION}
    )
    run = app_stack(stack, image=reference)
    assert run.error is None, run.error
    assert run.of_type(IMAGE) == []
    assert container_image(run) == reference
    assert run.exports["model_version"] == OLD_VERSION


def test_the_new_label_wins_over_the_old_one(app_stack: AppStack, registries: Registries) -> None:
    labels = {LABEL: OLD_VERSION, pinned_image.LEGACY_MODEL_VERSION_LABEL: "20200101T000000Z-0"}
    run = app_stack("alice", image=image_in(registries.of_stack("alice"), labels))
    assert run.error is None, run.error
    assert run.exports["model_version"] == OLD_VERSION


def test_the_fake_storage_refuses_a_forwarded_registry_token() -> None:
    # What makes the redirect check above meaningful: a client that sent the registry token on
    # to storage would get 403 there, and infra/registry_read.py would fail.
    registry = FakeRegistry("banknotealice0000.azurecr.io")
    digest = registry.add_image("banknote-api", {LABEL: OLD_VERSION})
    config_digest = next(d for d in registry.blobs["banknote-api"] if d != digest)
    with serve(registry):
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{registry.storage_url}/banknote-api/{config_digest}?sig=signed",
            headers={"Authorization": "Bearer access-0"},
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback
        assert caught.value.code == 403
        caught.value.close()


def test_registry_errors_are_one_line_with_the_registrys_code() -> None:
    registry = FakeRegistry("banknotealice0000.azurecr.io")
    with serve(registry) as base:
        with pytest.raises(registry_read.RegistryReadError) as caught:
            registry_read.image_labels(
                registry.login_server, "banknote-api", "sha256:" + "1" * 64, "no-such-token",
                base_url=base,
            )  # fmt: skip
        assert str(caught.value).endswith("HTTP 401 UNAUTHORIZED")
        with pytest.raises(registry_read.RegistryReadError, match="refused a pull token"):
            registry_read.pull_token(registry.login_server, "banknote-api", "bad", base_url=base)
