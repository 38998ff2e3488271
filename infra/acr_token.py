"""Push credentials for the registry without its admin user: the deployer's own Entra ID token.

This is what `az acr login` does (Azure/acr docs, AAD-OAuth.md): exchange an Entra ID access
token for an ACR refresh token at `https://<registry>/oauth2/exchange`, then log in with the
fixed user name below. The deployer's roles decide what it may push; nothing is stored.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final

# The user name ACR expects together with a refresh token as password.
TOKEN_USER: Final = "00000000-0000-0000-0000-000000000000"  # noqa: S105 - a user name

PostForm = Callable[[str, Mapping[str, str]], Mapping[str, Any]]


def post_form(url: str, fields: Mapping[str, str]) -> Mapping[str, Any]:
    """POST an urlencoded form and decode the JSON answer (the registry's token endpoints)."""
    request = urllib.request.Request(  # noqa: S310 - the URL is always https://<login server>
        url,
        data=urllib.parse.urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - see above
        answer: Mapping[str, Any] = json.load(response)
    return answer


def exchange(
    login_server: str, tenant_id: str, aad_token: str, post: PostForm | None = None
) -> str:
    """An ACR refresh token for `login_server`, obtained with an Entra ID access token."""
    answer = (post or post_form)(
        f"https://{login_server}/oauth2/exchange",
        {
            "grant_type": "access_token",
            "service": login_server,
            "tenant": tenant_id,
            "access_token": aad_token,
        },
    )
    token = answer.get("refresh_token")
    if not isinstance(token, str) or not token:
        raise RuntimeError(f"{login_server} returned no refresh token for the deployer")
    return token
