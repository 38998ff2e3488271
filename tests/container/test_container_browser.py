"""A real browser uses the Swagger UI of the running container, as the original README told users.

Debian's Chromium, driven by Playwright (never `playwright install`). Every request the page makes
is recorded; anything not on the service's own origin is blocked and fails the test, so the
docs work offline, behind a proxy and under a strict Content-Security-Policy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect, sync_playwright

from tests.container.support import GENUINE_NOTE, ROOT, Container

pytestmark = [pytest.mark.container, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = ROOT / "test-artifacts" / "swagger-predict.png"
UI_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    """Debian's Chromium; a loud skip without it (a failure under REQUIRE_CONTAINER_TESTS=1)."""
    if not CHROMIUM.exists():
        message = (
            f"NO CHROMIUM at {CHROMIUM} - BROWSER TEST NOT RUN (bash scripts/ensure-chromium.sh)"
        )
        if os.environ.get("REQUIRE_CONTAINER_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def page(chromium_path: Path) -> Iterator[Page]:
    """A fresh page in headless Chromium."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_swagger_ui_try_it_out_predicts(service: Container, page: Page) -> None:
    origin = urlsplit(service.url)
    served: list[str] = []
    foreign: list[str] = []

    def only_the_service(route: Route) -> None:
        url = urlsplit(route.request.url)
        if (url.scheme, url.netloc) == (origin.scheme, origin.netloc):
            served.append(url.path)
            route.continue_()
        else:  # record and block: test traffic stays on loopback
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_service)
    page.goto(f"{service.url}/docs")

    operation = page.locator(
        '.opblock.opblock-post:has(.opblock-summary-path[data-path="/predict"])'
    )
    summary = operation.locator(".opblock-summary")
    expect(summary.locator(".opblock-summary-description")).to_have_text(
        "Predict Bankbiljet", timeout=UI_TIMEOUT_MS
    )
    summary.click()
    operation.get_by_role("button", name="Try it out").click()
    body_editor = operation.locator("textarea.body-param__text")
    body_editor.fill(json.dumps(GENUINE_NOTE))
    operation.get_by_role("button", name="Execute").click()

    live_response = operation.locator(".live-responses-table .response").first
    expect(live_response.locator(".response-col_status")).to_have_text("200", timeout=UI_TIMEOUT_MS)
    response_text = live_response.locator(".response-col_description pre").first.inner_text()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    body = json.loads(response_text)
    assert body["prediction"] == "genuine"
    assert body["label"] == "Goed bankbiljet"
    assert foreign == [], f"the docs page requested URLs off the service: {foreign}"
    # The UI's own script and style came from the service (so the route above saw them).
    assert any(path.endswith(".js") for path in served), served
    assert any(path.endswith(".css") for path in served), served
