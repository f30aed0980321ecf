"""The web page's "paste the error message" field (issue 15 item 3): over HTTP and in a real browser.

Over HTTP: the CSRF token and Origin are checked as for a check, an empty paste
is a ja/en error, pasted text comes back escaped, and a quoted server name is
offered only when it could be one.  In Chromium: a user pastes an Outlook
message, sees the cause, the candidates and the check that separates them in
the page's language, and starts the check with the server the message named.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import trustme

from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.client_messages import checks
from pop3doctor.lab import LabServer
from pop3doctor.web import RunOptions, create_app
from pop3doctor.web.server import serve_in_thread

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytest_plugins = ["support.browser"]

CORPUS = Path(__file__).resolve().parent / "data" / "client_messages" / "outlook.jsonl"
#: Outlook's "failed to connect" task error, as the corpus has it in each language (it names the server).
OUTLOOK_TASK = {
    "en": "Task 'pop.example.com - Receiving' reported error (0x800CCC0E)",
    "ja": "タスク 'pop.example.jp - 受信中' はエラー (0x800CCC0E) を報告しました",
}
SERVER = {"en": "pop.example.com", "ja": "pop.example.jp"}


def corpus_entry(text: str) -> dict[str, Any]:
    entries = [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line.strip()]
    return next(entry for entry in entries if entry["text"] == text)


@pytest.fixture
def plain_web() -> Iterator[str]:
    with serve_in_thread(create_app(RunOptions(timeout=2.0))) as url:
        yield url


def tokens(client: httpx.Client, url: str) -> dict[str, str]:
    html = client.get(url).text
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]+)">', html))


def post(client: httpx.Client, url: str, data: dict[str, str], **headers: str) -> httpx.Response:
    return client.post(url.rstrip("/") + "/api/explain", data=data, headers=headers)


def test_explain_answers_in_both_languages_with_candidates_and_host(plain_web: str) -> None:
    with httpx.Client() as client:
        text = "Task 'pop.example.com - Receiving' reported error (0x800CCC0E) : 'Cannot connect.'"
        answer = post(client, plain_web, {**tokens(client, plain_web), "text": text})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    assert data["cause"] == "connection-timeout" and data["host"] == "pop.example.com"
    assert data["client_name"]["en"].startswith("Outlook")
    first = get_cause("connection-timeout")
    assert data["title"] == {"ja": first.title.ja, "en": first.title.en}
    assert [c["cause"] for c in data["candidates"]][:2] == ["connection-timeout", "connection-refused"]
    assert set(data["check"]) == {"ja", "en"} and data["check"]["ja"] in {c.ja for c in checks().values()}
    assert data["remedy"] and all(set(step) == {"ja", "en"} for step in data["remedy"])
    assert data["read"] is None and data["unknown"] is None


def test_unknown_and_empty_pastes(plain_web: str) -> None:
    with httpx.Client() as client:
        page = tokens(client, plain_web)
        unknown = post(client, plain_web, {**page, "text": "the printer is on fire"}).json()
        assert unknown["cause"] is None and "わかりませんでした" in unknown["unknown"]["ja"]
        empty = post(client, plain_web, {**page, "text": " \n "})
        assert empty.status_code == 400 and empty.json()["field"] == "paste"
        assert set(empty.json()["error"]) == {"ja", "en"}


def test_explain_needs_the_page_token_and_a_loopback_origin(plain_web: str) -> None:
    with httpx.Client() as client:
        page = tokens(client, plain_web)
        text = "-ERR [AUTH] Authentication failed."
        assert post(client, plain_web, {"text": text}).status_code == 403
        assert post(client, plain_web, {**page, "csrf": "forged", "text": text}).status_code == 403
        foreign = post(client, plain_web, {**page, "text": text}, origin="http://evil.example")
        assert foreign.status_code == 403
        assert post(client, plain_web, {**page, "text": text}).status_code == 200


def test_pasted_text_comes_back_escaped_and_a_bad_host_is_not_offered(plain_web: str) -> None:
    log = "noise\n-ERR [AUTH] Authentication failed.\x1b[2J\u202e <script>\nmore noise\n"
    bad_host = "Task 'pop<b>.example.com - Receiving' reported error (0x800CCC0E)"
    with httpx.Client() as client:
        page = tokens(client, plain_web)
        read = post(client, plain_web, {**page, "text": log}).json()
        named = post(client, plain_web, {**page, "text": bad_host}).json()
    assert read["cause"] == "auth-failed" and read["read"]["lines"] == [2]
    assert "\x1b" not in read["read"]["text"] and "\u202e" not in read["read"]["text"]
    assert "\\x1b" in read["read"]["text"] and "\\u202e" in read["read"]["text"]
    assert named["cause"] is not None and named["host"] is None


# --- in the browser ---------------------------------------------------------------------

PASTE_LABEL = {"ja": "エラーメッセージを貼り付け", "en": "Paste the error message"}
EXPLAIN = {"ja": "意味を調べる", "en": "Explain"}
START = {"ja": "この内容でチェックする", "en": "Check my settings with this in mind"}
EMAIL = {"ja": "メールアドレス", "en": "E-mail address"}
HOST = {"ja": "受信メールサーバー（POP3）", "en": "Incoming mail server (POP3)"}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_pasting_an_outlook_message_shows_its_explanation(
    lang: str, open_page: Callable[..., Page], screenshot: Callable[[Page, str], object]
) -> None:
    entry = corpus_entry(OUTLOOK_TASK[lang])
    page = open_page(lang)
    page.get_by_role("textbox", name=PASTE_LABEL[lang], exact=True).fill(entry["text"])
    page.get_by_role("button", name=EXPLAIN[lang], exact=True).click()
    page.locator("#explanation:not([hidden])").wait_for()
    shown = page.locator("#explanation").inner_text()
    other = "en" if lang == "ja" else "ja"
    first = get_cause(entry["candidates"][0])
    assert first.title(lang) in shown and first.title(other) not in shown
    for cause in entry["candidates"]:
        assert get_cause(cause).title(lang) in page.locator("#explained-candidates").inner_text()
    assert page.locator("#explained-check").inner_text().strip()
    assert "Outlook" in page.locator("#explained-client").inner_text()
    screenshot(page, f"web-explain-outlook-{lang}")

    # The page's language switch re-words the explanation too.
    page.locator(f'[data-set-lang="{other}"]').click()
    assert first.title(other) in page.locator("#explanation").inner_text()
    page.locator(f'[data-set-lang="{lang}"]').click()

    # Starting the check from it fills in the server the message named and asks for the address.
    page.get_by_role("button", name=START[lang], exact=True).click()
    assert page.get_by_role("textbox", name=HOST[lang], exact=True).input_value() == SERVER[lang]
    assert page.evaluate("document.activeElement.id") == "email"
    assert page.locator("#progress").is_hidden()  # no check without an address and password
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_an_empty_paste_says_so_in_the_page(open_page: Callable[..., Page]) -> None:
    page = open_page("ja")
    page.get_by_role("button", name=EXPLAIN["ja"], exact=True).click()
    error = page.locator("#explain-error:not([hidden])")
    error.wait_for()
    assert "貼り付けてから" in error.inner_text()
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_the_explanation_starts_the_check_that_tells_its_candidates_apart(
    open_page: Callable[..., Page], screenshot: Callable[[Page, str], object], lab_ca: trustme.CA
) -> None:
    # Outlook said 0x800CCC92 (login rejected: four candidates); the check decides which.
    page = open_page("en")
    with LabServer("wrong-password", ca=lab_ca).run_in_thread() as lab:
        assert lab.tls_port is not None
        page.get_by_role("textbox", name=EMAIL["en"], exact=True).fill("alice@example.jp")
        page.get_by_role("textbox", name="Password", exact=True).fill(lab.password)
        page.get_by_text("Server settings (advanced)").click()
        page.get_by_role("textbox", name="Port", exact=True).fill(str(lab.tls_port))
        page.get_by_role("textbox", name="User name (account)", exact=True).fill(lab.user)
        message = (
            f"Task '{lab.host} - Receiving' reported error (0x800CCC92) : 'Your e-mail server rejected your login.'"
        )
        page.get_by_role("textbox", name=PASTE_LABEL["en"], exact=True).fill(message)
        page.get_by_role("button", name=EXPLAIN["en"], exact=True).click()
        page.locator("#explanation:not([hidden])").wait_for()
        candidates = page.locator("#explained-candidates").inner_text()
        assert get_cause("auth-failed").title.en in candidates
        assert get_cause("app-password-required").title.en in candidates
        page.get_by_role("button", name=START["en"], exact=True).click()
        page.locator("#verdict:not([hidden])").wait_for()
    assert page.get_by_role("textbox", name=HOST["en"], exact=True).input_value() == lab.host
    assert page.locator("#verdict").get_attribute("data-cause") == "auth-failed"
    screenshot(page, "web-explain-then-check-en")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_pasted_markup_is_shown_as_text(open_page: Callable[..., Page]) -> None:
    page = open_page("en")
    log = 'noise\n-ERR [AUTH] Authentication failed. <img src=x onerror="window.owned=1"><b>bold</b>\nmore\n'
    page.get_by_role("textbox", name=PASTE_LABEL["en"], exact=True).fill(log)
    page.get_by_role("button", name=EXPLAIN["en"], exact=True).click()
    page.locator("#explanation:not([hidden])").wait_for()
    assert "<b>bold</b>" in page.locator("#explained-read").inner_text()
    assert page.locator("#explanation img, #explanation b").count() == 0
    assert page.evaluate("window.owned") is None
    assert page.locator("#explained-lines").inner_text() == "2"
    assert page.js_errors == []  # type: ignore[attr-defined]
