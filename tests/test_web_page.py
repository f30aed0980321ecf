"""The web page in a real browser (Chromium via Playwright) against lab scenarios on loopback.

Each test types what a user would into the page, by label, and reads what
the page shows: the live steps, the verdict, the cause and fix, the settings
to enter and the support report.  Screenshots land in test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme

from pop3doctor.diagnosis.model import STAGES
from pop3doctor.diagnosis.state import filled
from pop3doctor.diagnosis.text import STAGE_NAMES, VERDICTS
from pop3doctor.i18n import Msg
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.lab import LabServer
from pop3doctor.web import RunOptions, create_app
from pop3doctor.web.server import serve_in_thread
from support.dns_server import LocalDnsServer

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

# The browser fixtures (browser, web_url, open_page, screenshot) live in support/browser.py.
pytest_plugins = ["support.browser"]

#: Generous: a loaded CI machine must not fail a correct page.
WAIT_MS = 30_000

CHECKS = [s for s in STAGES if s != "summary"]
LABELS = {
    "ja": {
        "email": "メールアドレス",
        "password": "パスワード",
        "advanced": "サーバーの設定（詳細）",
        "host": "受信メールサーバー（POP3）",
        "port": "ポート番号",
        "security": "暗号化方法",
        "user": "ユーザー名（アカウント名）",
        "extra": "ほかに試すポート",
        "start": "チェック開始",
        "english": "English",
    },
    "en": {
        "email": "E-mail address",
        "password": "Password",
        "advanced": "Server settings (advanced)",
        "host": "Incoming mail server (POP3)",
        "port": "Port",
        "security": "Connection security",
        "user": "User name (account)",
        "extra": "Other ports to try",
        "start": "Start check",
        "english": "English",
    },
}


def box(page: Page, name: str) -> Locator:
    """A text field by its accessible name: the label a screen reader announces, in the shown language."""
    return page.get_by_role("textbox", name=name, exact=True)


def open_advanced(page: Page, lang: str) -> None:
    if page.locator("#advanced").get_attribute("open") is None:
        page.get_by_text(LABELS[lang]["advanced"]).click()


def run_check(page: Page, lab: LabServer, lang: str, *, port: int, security: str) -> None:
    """Fill the form the way a user does (fields found by their labels), start, and wait for the verdict."""
    text = LABELS[lang]
    box(page, text["email"]).fill("alice@example.jp")
    box(page, text["password"]).fill(lab.password)
    open_advanced(page, lang)
    box(page, text["host"]).fill(lab.host)
    box(page, text["port"]).fill(str(port))
    page.get_by_role("combobox", name=text["security"]).select_option(security)
    box(page, text["user"]).fill(lab.user)
    extra = [p for p in (lab.tls_port, lab.port) if p is not None]
    box(page, text["extra"]).fill(", ".join(map(str, extra)))
    page.get_by_role("button", name=text["start"]).click()
    page.locator("#verdict:not([hidden])").wait_for(timeout=WAIT_MS)


def step_statuses(page: Page) -> dict[str, str]:
    """Each check's status, in the order shown ("pass", "fail", "notrun", ...)."""
    script = "items => Object.fromEntries(items.map(li => [li.dataset.stage, li.dataset.status]))"
    return page.eval_on_selector_all("#steps > li", script)


def visible(page: Page, selector: str) -> str:
    return page.locator(selector).inner_text()


def assert_in_language(page: Page, lang: str) -> None:
    other = "en" if lang == "ja" else "ja"
    steps = visible(page, "#steps")
    for stage in CHECKS:
        assert STAGE_NAMES[stage](lang) in steps
    # The other language is not shown ("Connection" vs "接続", one of the stage names).
    assert STAGE_NAMES["connect"](other) not in steps
    assert page.evaluate("document.documentElement.lang") == lang


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_healthy_server_all_green_in_both_languages(
    lang: str, open_page: Callable[..., Page], screenshot: Callable[[Page, str], object], lab_ca: trustme.CA
) -> None:
    page = open_page(lang)
    # The browser's language picks the page's.
    assert page.evaluate("document.documentElement.lang") == lang
    with LabServer("healthy", ca=lab_ca).run_in_thread() as lab:
        run_check(page, lab, lang, port=lab.tls_port, security="ssl")
    statuses = step_statuses(page)
    assert statuses == dict.fromkeys(CHECKS, "pass"), statuses
    assert page.locator("#verdict").get_attribute("data-verdict") == "ok"
    assert visible(page, "#verdict-heading") == VERDICTS["ok"](lang)
    assert_in_language(page, lang)
    # The settings to enter are the ones just proven to work.
    table = visible(page, "#enter-table")
    assert str(lab.tls_port) in table and "SSL/TLS" in table and lab.user in table
    assert page.locator("#enter-block").get_attribute("data-kind") == "verified"
    # The answer has the focus (keyboard and screen-reader users land on it).
    assert page.evaluate("document.activeElement.id") == "verdict-heading"
    screenshot(page, f"web-healthy-{lang}")

    # Switching the language re-words everything without running the checks again.
    other = "en" if lang == "ja" else "ja"
    page.locator(f'[data-set-lang="{other}"]').click()
    assert visible(page, "#verdict-heading") == VERDICTS["ok"](other)
    assert_in_language(page, other)
    assert step_statuses(page) == dict.fromkeys(CHECKS, "pass")
    assert page.js_errors == []  # type: ignore[attr-defined]


def _remedy(cause: str, values: dict[str, object], lang: str) -> list[str]:
    return [filled(step, values)(lang) for step in get_cause(cause).remedy]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scenario", "use_port", "security", "cause", "lang"),
    [
        ("wrong-password", "tls", "ssl", "auth-failed", "en"),
        ("healthy", "plain", "ssl", "port-expects-plain", "ja"),
        ("app-password-required", "tls", "ssl", "app-password-required", "en"),
    ],
    ids=["wrong-password", "port-ssl-mismatch", "app-password-required"],
)
def test_failure_shows_cause_fix_and_settings(
    scenario: str,
    use_port: str,
    security: str,
    cause: str,
    lang: str,
    open_page: Callable[..., Page],
    screenshot: Callable[[Page, str], object],
    lab_ca: trustme.CA,
) -> None:
    page = open_page(lang, clipboard=True)
    with LabServer(scenario, ca=lab_ca).run_in_thread() as lab:
        port = lab.tls_port if use_port == "tls" else lab.port
        assert port is not None
        run_check(page, lab, lang, port=port, security=security)

    verdict = page.locator("#verdict")
    assert verdict.get_attribute("data-verdict") == "problem"
    assert verdict.get_attribute("data-cause") == cause
    info = get_cause(cause)
    values: dict[str, object] = {"host": lab.host, "port": port, "security": security, "user": lab.user}
    if cause == "port-expects-plain":
        values.update(suggested_port=lab.tls_port, suggested_security="SSL/TLS", suggested_host=lab.host,
                      suggested_user=lab.user)
    assert visible(page, "#cause-title") == filled(info.title, values)(lang)
    fix = visible(page, "#fix-steps")
    for step in _remedy(cause, values, lang)[:2]:
        assert step in fix
    # Green up to the failing step, red there, "not checked" after it.
    statuses = step_statuses(page)
    failed_at = list(statuses).index(info.stage)
    assert list(statuses.values()) == (
        ["pass"] * failed_at + ["fail"] + ["notrun"] * (len(statuses) - failed_at - 1)
    ), statuses

    table = visible(page, "#enter-table")
    if cause == "port-expects-plain":
        # The fix names the port that works, and offers to check with it.
        assert page.locator("#enter-block").get_attribute("data-kind") == "suggested"
        assert str(lab.tls_port) in table and "SSL/TLS" in table
        # Only the port differs from what was checked: that row is marked.
        changed = page.locator("#enter-table tr.changed")
        assert changed.count() == 1 and changed.get_attribute("data-key") == "port"
        assert page.locator("#use-suggested").is_visible()
        screenshot(page, "web-port-mismatch-ja")
    else:
        assert page.locator("#enter-block").get_attribute("data-kind") == "checked"
        assert not page.locator("#use-suggested").is_visible()
        screenshot(page, f"web-{scenario}-{lang}")

    # The support report: copied to the clipboard, shown on request, never with the password.
    page.get_by_role("button", name={"ja": "サポート用レポートをコピー", "en": "Copy support report"}[lang]).click()
    page.locator("#copy-status").filter(has_text=Msg("コピーしました", "Copied")(lang)).wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#report-text").input_value()
    assert f"cause: `{cause}`" in copied
    assert lab.password not in copied
    assert lab.password not in page.content()
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_check_again_with_suggested_settings_confirms_the_fix(
    open_page: Callable[..., Page], lab_ca: trustme.CA
) -> None:
    """SSL/TLS on the plain port, then "check again with these settings": mail can be received."""
    page = open_page("en")
    with LabServer("healthy", ca=lab_ca).run_in_thread() as lab:
        assert lab.port is not None
        run_check(page, lab, "en", port=lab.port, security="ssl")
        assert page.locator("#verdict").get_attribute("data-cause") == "port-expects-plain"
        page.get_by_role("button", name="Check again with these settings").click()
        page.locator('#verdict[data-verdict="ok"]:not([hidden])').wait_for(timeout=WAIT_MS)
    assert box(page, "Port").input_value() == str(lab.tls_port)
    assert step_statuses(page) == dict.fromkeys(CHECKS, "pass")
    assert visible(page, "#verdict-heading") == VERDICTS["ok"]("en")


def test_keyboard_only(open_page: Callable[..., Page], lab_ca: trustme.CA) -> None:
    """Tab through the form, type, press Enter: the checks run and the focus lands on the answer."""
    page = open_page("en")
    with LabServer("healthy", ca=lab_ca).run_in_thread() as lab:
        box(page, "E-mail address").focus()
        page.keyboard.type("alice@example.jp")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "password"
        page.keyboard.type(lab.password)
        # To the "advanced" summary: Tab past the show-password box, open with Enter.
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
        if page.locator("#advanced").get_attribute("open") is None:
            page.keyboard.press("Enter")
        for value in (lab.host, None, str(lab.tls_port), lab.user):
            page.keyboard.press("Tab")
            if value is not None:  # the security select keeps its default, SSL/TLS
                page.keyboard.type(value)
        page.keyboard.press("Enter")  # submits the form
        page.locator("#verdict:not([hidden])").wait_for(timeout=WAIT_MS)
    assert page.locator("#verdict").get_attribute("data-verdict") == "ok"
    assert page.evaluate("document.activeElement.id") == "verdict-heading"


def test_missing_field_is_explained_next_to_the_form(open_page: Callable[..., Page]) -> None:
    """The server's own validation (here: a port out of range) is shown in the page's language."""
    page = open_page("ja")
    box(page, "メールアドレス").fill("alice@example.jp")
    box(page, "パスワード").fill("x")
    open_advanced(page, "ja")
    box(page, "受信メールサーバー（POP3）").fill("127.0.0.1")
    box(page, "ポート番号").fill("70000")
    page.get_by_role("button", name="チェック開始").click()
    error = page.locator("#form-error")
    error.wait_for()
    assert "1〜65535" in error.inner_text()
    assert page.evaluate("document.activeElement.id") == "port"
    assert page.locator("#verdict").is_hidden()


def test_address_and_password_only_discovers_the_settings(
    open_page: Callable[..., Page],
    screenshot: Callable[[Page, str], object],
    lab_ca: trustme.CA,
    tmp_path: Path,
) -> None:
    """No advanced fields: discovery finds the server (an SRV record on a loopback DNS server),
    the page shows where the settings came from, and the check passes."""
    ca_file = tmp_path / "lab-ca.pem"
    lab_ca.cert_pem.write_to_path(str(ca_file))
    with LabServer("healthy", ca=lab_ca, user="alice@example.test").run_in_thread() as lab:
        records = {
            "_pop3s._tcp.example.test": {"SRV": [(0, 1, lab.tls_port, "localhost")]},
            "localhost": {"A": ["127.0.0.1"]},
        }
        with LocalDnsServer(records) as dns:
            options = RunOptions(ca_file=str(ca_file), timeout=3.0, nameservers=(dns.nameserver,))
            with serve_in_thread(create_app(options)) as url:
                page = open_page("ja", url=url)
                assert page.locator("#advanced").get_attribute("open") is None  # nothing to fill in there
                box(page, "メールアドレス").fill("alice@example.test")
                box(page, "パスワード").fill(lab.password)
                page.get_by_role("button", name="チェック開始").click()
                page.locator("#verdict:not([hidden])").wait_for(timeout=WAIT_MS)
    assert page.locator("#verdict").get_attribute("data-verdict") == "ok"
    used = visible(page, "#settings-used")
    assert "localhost" in used and str(lab.tls_port) in used and "SRV" in visible(page, "#settings-source")
    assert step_statuses(page) == dict.fromkeys(CHECKS, "pass")
    screenshot(page, "web-discovered-ja")
