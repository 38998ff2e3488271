"""A real browser for the docs tests: Debian's Chromium driven by Playwright, kept offline.

Shared by tests/api (the service under uvicorn) and tests/container (the service in Docker).
Never `playwright install`: it downloads a browser, which these machines cannot.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, Route, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 20_000
# Records the Content-Security-Policy violations the page reports.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def require_chromium() -> Path:
    """Debian's Chromium; a loud skip without it, a failure in CI or with container tests on."""
    if not CHROMIUM.exists():
        message = f"NO CHROMIUM at {CHROMIUM}: browser test not run (scripts/ensure-chromium.sh)"
        if os.environ.get("CI") == "true" or os.environ.get("REQUIRE_CONTAINER_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@dataclass
class OfflinePage:
    """A page that may only talk to one origin; what it asked for is recorded."""

    page: Page
    served: list[str] = field(default_factory=list)  # paths fetched from the service
    foreign: list[str] = field(default_factory=list)  # URLs elsewhere (blocked)

    def csp_violations(self) -> list[str]:
        violations: list[str] = self.page.evaluate("window.__cspViolations")
        return violations


@contextmanager
def offline_page(service_url: str) -> Iterator[OfflinePage]:
    """Headless Chromium with one page whose requests off `service_url`'s origin are blocked."""
    executable = require_chromium()
    origin = urlsplit(service_url)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=FLAGS
        )
        try:
            recorded = OfflinePage(browser.new_page())

            def only_the_service(route: Route) -> None:
                url = urlsplit(route.request.url)
                if (url.scheme, url.netloc) == (origin.scheme, origin.netloc):
                    recorded.served.append(url.path)
                    route.continue_()
                elif url.scheme in ("data", "blob"):  # in-page content, not a request
                    route.continue_()
                else:  # record and block: test traffic stays on loopback
                    recorded.foreign.append(route.request.url)
                    route.abort()

            recorded.page.add_init_script(WATCH_CSP)
            recorded.page.route("**/*", only_the_service)
            yield recorded
        finally:
            browser.close()


def try_it_out(page: Page, docs_url: str, note: dict[str, float] | None = None) -> dict[str, Any]:
    """In Swagger UI: open "POST /predict Predict Bankbiljet", Try it out, Execute.

    `note` replaces the pre-filled example when given. Returns the JSON answer shown on the
    page after checking its status is 200.
    """
    page.goto(docs_url)
    operation = page.locator(
        '.opblock.opblock-post:has(.opblock-summary-path[data-path="/predict"])'
    )
    summary = operation.locator(".opblock-summary")
    expect(summary.locator(".opblock-summary-description")).to_have_text(
        "Predict Bankbiljet", timeout=TIMEOUT_MS
    )
    summary.click()
    operation.get_by_role("button", name="Try it out").click()
    editor = operation.locator("textarea.body-param__text")
    if note is None:
        # "Try it out" is pre-filled with the genuine example from the OpenAPI schema.
        expect(editor).to_contain_text("3.6216")
    else:
        editor.fill(json.dumps(note))
    return _execute(operation)


def try_operation(page: Page, docs_url: str, path: str, summary: str) -> dict[str, Any]:
    """In Swagger UI: open "POST `path`" (its summary must read `summary`), Try it out with the
    pre-filled example, Execute. Returns the JSON answer shown after checking it is a 200."""
    page.goto(docs_url)
    operation = page.locator(
        f'.opblock.opblock-post:has(.opblock-summary-path[data-path="{path}"])'
    ).first
    head = operation.locator(".opblock-summary")
    expect(head.locator(".opblock-summary-description")).to_have_text(summary, timeout=TIMEOUT_MS)
    head.click()
    operation.get_by_role("button", name="Try it out").click()
    return _execute(operation)


def _execute(operation: Locator) -> dict[str, Any]:
    """Click Execute on an opened operation; the JSON answer shown, after checking it is 200."""
    operation.get_by_role("button", name="Execute").click()
    live = operation.locator(".live-responses-table .response").first
    expect(live.locator(".response-col_status")).to_have_text("200", timeout=TIMEOUT_MS)
    answer: dict[str, Any] = json.loads(
        live.locator(".response-col_description pre").first.inner_text()
    )
    return answer
