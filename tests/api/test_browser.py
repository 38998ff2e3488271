"""/docs and /redoc render in a real browser under the service's strict CSP, fully offline.

Debian's Chromium driven by Playwright against the real server. Requests to any other origin
are blocked and fail the test; CSP violations are collected from the page and fail it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser import TIMEOUT_MS, OfflinePage, offline_page, try_it_out, try_operation

pytestmark = [pytest.mark.browser, pytest.mark.server]

# ReDoc 2.5 always adds the "API docs by Redocly" footer with a logo from its CDN; the CSP
# blocks it and ReDoc hides the broken image. That is the policy working, not a failure.
REDOC_FOOTER_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture
def browser(server: Any) -> Iterator[OfflinePage]:
    with offline_page(server.url) as page:
        yield page


def test_swagger_ui_try_it_out(server: Any, browser: OfflinePage) -> None:
    answer = try_it_out(browser.page, f"{server.url}/docs")
    assert answer["label"] == "Goed bankbiljet"
    assert browser.csp_violations() == []
    assert browser.foreign == []


def test_swagger_ui_try_it_out_on_the_standard_protocols(server: Any, browser: OfflinePage) -> None:
    # The pre-filled examples are the contract's two rows: a genuine note, then a forged one.
    docs = f"{server.url}/docs"
    v2 = try_operation(browser.page, docs, "/v2/models/{model_name}/infer", "Inference")
    outputs = {output["name"]: output for output in v2["outputs"]}
    assert v2["model_name"] == "banknote"
    assert outputs["label"]["data"] == [0, 1]
    assert outputs["probabilities"]["shape"] == [2, 2]
    mlflow = try_operation(browser.page, docs, "/invocations", "Invocations")
    assert mlflow == {"predictions": [0, 1]}
    assert browser.csp_violations() == []
    assert browser.foreign == []


def test_redoc_renders(server: Any, browser: OfflinePage) -> None:
    browser.page.goto(f"{server.url}/redoc")
    heading = browser.page.get_by_role("heading", name="Predict Bankbiljet")
    expect(heading).to_be_visible(timeout=TIMEOUT_MS)
    expect(browser.page.get_by_text("Banknote authentication API").first).to_be_visible()
    violations = browser.csp_violations()
    assert [v for v in violations if not v.endswith(REDOC_FOOTER_LOGO)] == []
    assert [url for url in browser.foreign if url != REDOC_FOOTER_LOGO] == []
