"""A real browser uses the Swagger UI of the running container, as the original README told users.

Debian's Chromium, driven by Playwright (never `playwright install`). Every request the page makes
is recorded; anything not on the service's own origin is blocked and fails the test, so the
docs work offline, behind a proxy and under a strict Content-Security-Policy.
"""

from __future__ import annotations

import pytest

from tests.browser import offline_page, try_it_out
from tests.container.support import FORGED_NOTE, ROOT, Container

pytestmark = [pytest.mark.container, pytest.mark.browser]

SCREENSHOT = ROOT / "test-artifacts" / "swagger-predict.png"


def test_swagger_ui_try_it_out_predicts(service: Container) -> None:
    with offline_page(service.url) as browser:
        answer = try_it_out(browser.page, f"{service.url}/docs", FORGED_NOTE)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        browser.page.screenshot(path=str(SCREENSHOT), full_page=True)

        assert answer["prediction"] == "forged"
        assert answer["label"] == "Vals bankbiljet"
        assert browser.foreign == [], (
            f"the docs page requested URLs off the service: {browser.foreign}"
        )
        assert browser.csp_violations() == []
        # The UI's own script and style came from the service (so the route above saw them).
        assert any(path.endswith(".js") for path in browser.served), browser.served
        assert any(path.endswith(".css") for path in browser.served), browser.served
