"""The web page's server side over real HTTP: Host-header guard, CSRF, one run per page,
server-sent events, the password's absence from everything it sends and logs,
discovery through a loopback DNS server, and the ``pop3doctor web`` command.

The browser tests (test_web_page.py) show the page works; these show the
server refuses what it must refuse, whatever a page or an attacker sends.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
import trustme

from pop3doctor.lab import LabServer
from pop3doctor.web import RunOptions, create_app
from pop3doctor.web.form import FormError, parse_check_form
from pop3doctor.web.guard import host_name
from pop3doctor.web.lang import from_accept_language
from pop3doctor.web.server import serve_in_thread
from support.dns_server import LocalDnsServer

TIMEOUT = 30.0


@pytest.fixture
def ca_file(lab_ca: trustme.CA, tmp_path: object) -> str:
    path = os.path.join(str(tmp_path), "lab-ca.pem")
    lab_ca.cert_pem.write_to_path(path)
    return path


@pytest.fixture
def web(ca_file: str) -> Iterator[str]:
    with serve_in_thread(create_app(RunOptions(ca_file=ca_file, timeout=2.0))) as url:
        yield url


def new_page(client: httpx.Client, url: str) -> dict[str, str]:
    """Load the page; return its hidden form fields (page id and CSRF token)."""
    html = client.get(url).text
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]+)">', html))


def read_events(client: httpx.Client, url: str, path: str) -> tuple[list[tuple[str, dict[str, object]]], str]:
    """Every event of a run (until done/failed) and the raw stream text."""
    out: list[tuple[str, dict[str, object]]] = []
    raw = []
    with client.stream("GET", url.rstrip("/") + path, timeout=TIMEOUT) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in response.iter_lines():
            raw.append(line)
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                out.append((kind, json.loads(line[6:])))
                if kind in ("done", "failed"):
                    break
    return out, "\n".join(raw)


def form_for(lab: LabServer, tokens: dict[str, str], password: str, **extra: str) -> dict[str, str]:
    return {
        **tokens,
        "email": "alice@example.jp",
        "password": password,
        "host": lab.host,
        "port": str(lab.tls_port),
        "security": "ssl",
        "user": lab.user,
        **extra,
    }


# -- Host header (DNS rebinding) and response headers ------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}", "192.168.1.10"])
def test_foreign_host_header_is_refused(web: str, host: str) -> None:
    port = httpx.URL(web).port
    for path in ("/", "/static/app.js", "/api/check"):
        response = httpx.get(web.rstrip("/") + path, headers={"Host": host.format(port=port)})
        assert response.status_code == 421, (path, response.status_code)
        assert "http://127.0.0.1" in response.text
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_loopback_host_names_are_served(web: str, host: str) -> None:
    port = httpx.URL(web).port
    response = httpx.get(web, headers={"Host": host.format(port=port)})
    assert response.status_code == 200


def test_page_is_self_contained_with_strict_headers(web: str) -> None:
    response = httpx.get(web)
    html = response.text
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "http" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    # Offline: every script, style and icon comes from this server.
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(ref.startswith("/static/") for ref in refs), refs
    for ref in refs:
        asset = httpx.get(web.rstrip("/") + ref)
        assert asset.status_code == 200 and asset.content, ref
    # No inline script (the CSP forbids it); the only <script> without src is JSON data.
    scripts = re.findall(r"<script([^>]*)>", html)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts), scripts
    # The password field: masked, the browser's own password manager, never prefilled.
    field = re.search(r'<input id="password"[^>]*>', html, re.S)
    assert field is not None
    assert 'type="password"' in field.group(0) and 'autocomplete="current-password"' in field.group(0)
    assert "value=" not in field.group(0)


@pytest.mark.parametrize(
    ("accept", "lang"),
    [("ja-JP,ja;q=0.9,en;q=0.8", "ja"), ("en-US,en;q=0.9,ja;q=0.8", "en"), ("de-DE,ja;q=0.5", "ja"), ("fr", "en")],
)
def test_first_language_follows_the_browser(web: str, accept: str, lang: str) -> None:
    html = httpx.get(web, headers={"Accept-Language": accept}).text
    assert f'<html lang="{lang}" data-lang="{lang}">' in html
    # ?lang= overrides the browser.
    other = "en" if lang == "ja" else "ja"
    assert f'<html lang="{other}"' in httpx.get(web + f"?lang={other}", headers={"Accept-Language": accept}).text


# -- CSRF, origin, one run per page ----------------------------------------------------


def test_post_without_the_page_token_is_refused(web: str, lab_ca: trustme.CA) -> None:
    with httpx.Client() as client, LabServer("healthy", ca=lab_ca).run_in_thread() as lab:
        tokens = new_page(client, web)
        api = web.rstrip("/") + "/api/check"
        no_token = form_for(lab, {}, lab.password)
        assert client.post(api, data=no_token).status_code == 403
        wrong = form_for(lab, {**tokens, "csrf": "x" + tokens["csrf"][1:]}, lab.password)
        assert client.post(api, data=wrong).status_code == 403
        # The right token from a foreign page (its Origin) is refused too.
        good = form_for(lab, tokens, lab.password)
        foreign = client.post(api, data=good, headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403
        assert "error" in foreign.json() and set(foreign.json()["error"]) == {"ja", "en"}
        # Nothing above started a run: this page can still start one, from its own origin.
        origin = web.rstrip("/")
        ok = client.post(api, data=good, headers={"Origin": origin})
        assert ok.status_code == 200, ok.text
        events, _ = read_events(client, web, ok.json()["events"])
        assert events[-1][0] == "done"


def test_one_check_at_a_time_per_page(web: str) -> None:
    # A server that accepts TCP connections but never greets keeps a run busy
    # for the greeting timeout.
    with socket.socket() as silent, httpx.Client() as client:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        tokens = new_page(client, web)
        form = {**tokens, "email": "a@example.jp", "password": "pw", "host": "127.0.0.1", "port": str(port),
                "security": "plain"}
        api = web.rstrip("/") + "/api/check"
        first = client.post(api, data=form)
        assert first.status_code == 200
        second = client.post(api, data=form)
        assert second.status_code == 409
        assert "already running" in second.json()["error"]["en"]
        # Another page is independent.
        assert client.post(api, data={**form, **new_page(client, web)}).status_code == 200
        events, _ = read_events(client, web, first.json()["events"])
        assert events[-1][0] == "done"
        # Finished: the page may check again.
        again = client.post(api, data=form)
        assert again.status_code == 200
        read_events(client, web, again.json()["events"])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "", "user": ""}, "email"),
        ({"email": "not-an-address"}, "email"),
        ({"port": "0"}, "port"),
        ({"port": "99999"}, "port"),
        ({"host": "pop example.jp"}, "host"),
        ({"security": "tls1.0"}, "security"),
        ({"extra_ports": "995, abc"}, "extra_ports"),
    ],
)
def test_invalid_fields_are_named(fields: dict[str, str], field: str) -> None:
    base = {"email": "a@example.jp", "host": "pop.example.jp", "port": "", "security": "ssl"}
    with pytest.raises(FormError) as err:
        parse_check_form({**base, **fields})
    assert err.value.field == field
    assert err.value.message.ja and err.value.message.en


def test_form_defaults() -> None:
    check = parse_check_form({"email": "a@example.jp", "host": "pop.example.jp."})
    assert (check.host, check.port, check.security, check.user) == ("pop.example.jp", None, "ssl", "a@example.jp")
    # Without a server name the settings are looked up from the address.
    assert parse_check_form({"email": "a@example.jp"}).host is None


def test_host_and_language_parsing() -> None:
    assert host_name("[::1]:8080") == "[::1]"
    assert host_name("LocalHost:1") == "localhost"
    assert host_name("127.0.0.1") == "127.0.0.1"
    assert from_accept_language(None) == "en"
    assert from_accept_language("ja;q=0, en") == "en"
    assert from_accept_language("en;q=0.5, ja-JP;q=0.8") == "ja"
    assert from_accept_language("ja;q=bogus, en") == "en"


# -- the password ----------------------------------------------------------------------


def test_password_is_never_sent_back_or_logged(
    web: str, lab_ca: trustme.CA, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong password runs a full check (login fails); it appears in no response and no log."""
    secret = "Sekret-パス-42!"
    caplog.set_level(logging.DEBUG)
    with httpx.Client() as client, LabServer("healthy", ca=lab_ca).run_in_thread() as lab:
        tokens = new_page(client, web)
        started = client.post(web.rstrip("/") + "/api/check", data=form_for(lab, tokens, secret))
        assert started.status_code == 200
        assert secret not in started.text
        events, raw = read_events(client, web, started.json()["events"])
        page_after = client.get(web).text
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "settings" and kinds[-1] == "done" and "finding" in kinds
    done = events[-1][1]
    assert done["cause"] == "auth-failed"
    for text in (raw, page_after, caplog.text, json.dumps(events, ensure_ascii=False)):
        assert secret not in text
        assert secret.encode().hex() not in text
    # The support report says it has no password, in both languages.
    report = done["report"]
    assert isinstance(report, dict)
    assert "This report contains no password." in report["en"]
    assert "パスワードは含まれていません" in report["ja"]


def test_events_resume_after_last_event_id(web: str, lab_ca: trustme.CA) -> None:
    """A browser that reconnects gets only the events it missed (EventSource's Last-Event-ID)."""
    with httpx.Client() as client, LabServer("healthy", ca=lab_ca).run_in_thread() as lab:
        tokens = new_page(client, web)
        started = client.post(web.rstrip("/") + "/api/check", data=form_for(lab, tokens, lab.password))
        path = started.json()["events"]
        everything, _ = read_events(client, web, path)
        client.headers["Last-Event-ID"] = "2"
        rest, _ = read_events(client, web, path)
    assert rest == everything[3:]
    assert everything[-1][1]["verdict"] == "ok"


# -- discovery ----------------------------------------------------------------------------


def test_address_only_uses_discovery_and_names_the_source(lab_ca: trustme.CA, ca_file: str) -> None:
    """Only the address and password: the settings come from the domain's SRV record (loopback DNS)."""
    with LabServer("healthy", ca=lab_ca, user="alice@example.test").run_in_thread() as lab:
        records = {
            "_pop3s._tcp.example.test": {"SRV": [(0, 1, lab.tls_port, "localhost")]},
            "localhost": {"A": ["127.0.0.1"]},
        }
        with LocalDnsServer(records) as dns:
            options = RunOptions(ca_file=ca_file, timeout=3.0, nameservers=(dns.nameserver,))
            with serve_in_thread(create_app(options)) as url, httpx.Client() as client:
                tokens = new_page(client, url)
                form = {**tokens, "email": "alice@example.test", "password": lab.password, "security": "ssl"}
                started = client.post(url.rstrip("/") + "/api/check", data=form)
                assert started.status_code == 200, started.text
                events, _ = read_events(client, url, started.json()["events"])
    kind, settings = events[0]
    assert kind == "settings"
    expected = {"host": "localhost", "port": lab.tls_port, "security": "ssl", "user": "alice@example.test"}
    assert settings["raw"] == expected
    source = settings["source"]
    assert isinstance(source, dict) and "SRV" in source["en"] and "SRV" in source["ja"]
    assert events[-1][0] == "done" and events[-1][1]["verdict"] == "ok"


# -- the command ------------------------------------------------------------------------------


def test_pop3doctor_web_serves_on_loopback_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pop3doctor", "web", "--no-browser", "--lang", "en"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        assert "Ctrl+C" in line
        response = httpx.get(match.group(0), timeout=TIMEOUT)
        assert response.status_code == 200 and "pop3doctor" in response.text
        # Only loopback: the port is not open on any other address of this machine.
        listening = subprocess.run(["ss", "-Htln", f"sport = :{match.group(1)}"], capture_output=True, text=True)
        if listening.returncode == 0:
            addresses = {row.split()[3].rsplit(":", 1)[0] for row in listening.stdout.splitlines() if row.strip()}
            assert addresses == {"127.0.0.1"}, listening.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=TIMEOUT)
    # uvicorn shuts down cleanly, then re-raises the signal, as a well-behaved
    # process does: "terminated by SIGTERM", with no traceback.
    assert code in (0, -signal.SIGTERM)
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
