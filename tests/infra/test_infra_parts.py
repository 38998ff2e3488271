"""The small parts with logic of their own: the pull-retry hook and the ACR token exchange."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pulumi
import pytest

from infra import acr_token, container


def hook_args(operation: str, errors: list[str]) -> pulumi.ErrorHookArgs:
    return pulumi.ErrorHookArgs(
        urn="urn:pulumi:dev::banknote::x::group",
        id="",
        name="group",
        type="azure-native:containerinstance:ContainerGroup",
        failed_operation=operation,
        errors=errors,
    )


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container, "PULL_RETRY_DELAY_SECONDS", 0.0)


PULL_ERROR = (
    'Status=400 Code="InaccessibleImage" Message="The image \'x.azurecr.io/banknote-api@sha256:'
    "0123' in container group 'banknote-dev' is not accessible.\""
)


@pytest.mark.parametrize("operation", ["create", "update"])
def test_image_pull_failures_are_retried(operation: str) -> None:
    assert asyncio.run(container._retry_image_pull(hook_args(operation, [PULL_ERROR])))


def test_retries_stop_after_the_limit() -> None:
    errors = [PULL_ERROR] * container.PULL_RETRY_ATTEMPTS
    assert not asyncio.run(container._retry_image_pull(hook_args("create", errors)))


def test_other_failures_and_deletes_are_not_retried() -> None:
    quota = 'Code="ContainerGroupQuotaReached" Message="Resource type quota exceeded"'
    assert not asyncio.run(container._retry_image_pull(hook_args("create", [quota])))
    assert not asyncio.run(container._retry_image_pull(hook_args("delete", [PULL_ERROR])))


def test_token_exchange_posts_the_documented_form() -> None:
    seen: list[tuple[str, Mapping[str, str]]] = []

    def post(url: str, fields: Mapping[str, str]) -> Mapping[str, Any]:
        seen.append((url, fields))
        return {"refresh_token": "acr-refresh"}

    token = acr_token.exchange("reg.azurecr.io", "tenant-1", "entra-token", post=post)
    assert token == "acr-refresh"  # noqa: S105 - a test value
    assert seen == [
        (
            "https://reg.azurecr.io/oauth2/exchange",
            {
                "grant_type": "access_token",
                "service": "reg.azurecr.io",
                "tenant": "tenant-1",
                "access_token": "entra-token",
            },
        )
    ]


def test_token_exchange_without_a_token_fails_clearly() -> None:
    with pytest.raises(RuntimeError, match="returned no refresh token"):
        acr_token.exchange("reg.azurecr.io", "t", "x", post=lambda url, fields: {"error": "no"})
