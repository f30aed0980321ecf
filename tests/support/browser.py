"""A real browser for the web page's tests: Playwright for Python driving Debian's Chromium.

No browser is ever downloaded (``playwright install`` cannot work here and
is never run): Playwright launches ``/usr/bin/chromium`` from the Debian
package ``chromium``.  Without it the tests skip -- except in CI
(``CI=true``), where ``./dev`` installs it and a skip would hide a failure.

Fixtures (import them into the test module):

- ``browser``: one headless Chromium for the module.  Playwright starts it
  with a fresh temporary profile (user-data dir) of its own.
- ``web_url``: the page served from a thread on a free loopback port by the
  real app, trusting the lab's CA (``pop3doctor web --ca-file``).
- ``open_page(lang)``: a new page in its own browser context (no shared
  cookies or storage), phone-sized, with the browser's language set to ``lang``.
- ``screenshot(page, name)``: saves test-artifacts/<name>.png (full page).

Test modules load these with ``pytest_plugins = ["support.browser"]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme

from pop3doctor.web import RunOptions, create_app
from pop3doctor.web.server import serve_in_thread

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("POP3DOCTOR_CHROMIUM", "/usr/bin/chromium")

#: Chromium flags for a headless run as root with no network beyond loopback:
#: no sandbox (root), no GPU, and none of the background services that would
#: try to reach Google.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces: even with the flags above Chromium looked up
    # update.googleapis.com through the system resolver (seen with tcpdump).
    # Every name but loopback now fails inside Chromium without a DNS query,
    # and anything else would go to a closed proxy port on loopback.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    # (Chromium never sends loopback through a proxy, so the page is unaffected.)
    "--proxy-server=http://127.0.0.1:9",
]

#: A phone-sized screen (the page must be readable on one).
PHONE = {"width": 390, "height": 844}

#: Where screenshots go (git-ignored); CI keeps them as artifacts.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

#: Generous: a loaded CI machine must not fail a correct page.
WAIT_MS = 30_000


def require_chromium() -> str:
    """Chromium's path; skip without it, but fail in CI, where ./dev installs it."""
    ci = os.environ.get("CI", "").lower() == "true"
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} not found (Debian package chromium)"
        if ci:
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if ci:
            pytest.fail("CI=true but Playwright for Python is not installed")
        pytest.skip("Playwright for Python is not installed")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def web_url(lab_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ca_file = tmp_path_factory.mktemp("web") / "lab-ca.pem"
    lab_ca.cert_pem.write_to_path(str(ca_file))
    with serve_in_thread(create_app(RunOptions(ca_file=str(ca_file), timeout=5.0))) as url:
        yield url


@pytest.fixture
def open_page(browser: Browser, web_url: str) -> Iterator[Callable[..., Page]]:
    contexts = []

    def open_(lang: str = "en", *, clipboard: bool = False, url: str | None = None) -> Page:
        url = url or web_url
        locale = {"ja": "ja-JP", "en": "en-US"}[lang]
        context = browser.new_context(
            locale=locale, viewport=PHONE, extra_http_headers={"Accept-Language": f"{locale},{lang};q=0.9"}
        )
        if clipboard:
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors  # type: ignore[attr-defined]  # read by the tests: no script errors
        page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()


def save_screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG under test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """``screenshot(page, name)``: a full-page PNG at test-artifacts/<name>.png."""
    return save_screenshot
