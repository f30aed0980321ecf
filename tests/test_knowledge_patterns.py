"""Server wordings -> causes: the pattern data and a table of real server lines."""

from __future__ import annotations

import re

import pytest

from pop3doctor.knowledge.causes import CAUSE_CODES
from pop3doctor.knowledge.classify import (
    Pattern,
    all_patterns,
    classify_detail,
    classify_greeting,
    classify_response,
)
from pop3doctor.protocol.codes import ResponseCode

PATTERNS = all_patterns()


def test_pattern_ids_are_unique() -> None:
    ids = [p.id for p in PATTERNS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.id)
def test_pattern_is_well_formed(pattern: Pattern) -> None:
    assert isinstance(pattern.regex, re.Pattern)
    assert pattern.cause in CAUSE_CODES
    assert pattern.source.strip() and pattern.sample.strip()


#: The stages the diagnosis hands the classifier (knowledge/evidence.cause_for_server_error: the
#: client's ServerError stage, "user"/"login" read as "login"); a pattern limited to any other
#: name would never apply in a real run.
DIAGNOSIS_STAGES = {
    "greeting", "stls", "capa", "login", "stat", "list", "uidl", "top", "retr", "dele", "rset", "noop", "quit"
}


@pytest.mark.parametrize("pattern", [p for p in PATTERNS if p.stages], ids=lambda p: p.id)
def test_pattern_stages_are_stages_the_diagnosis_uses(pattern: Pattern) -> None:
    assert pattern.stages is not None and pattern.stages <= DIAGNOSIS_STAGES, pattern.stages


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.id)
def test_each_sample_classifies_to_its_own_cause(pattern: Pattern) -> None:
    stage = sorted(pattern.stages)[0] if pattern.stages else None
    assert classify_response(pattern.sample, stage=stage) == pattern.cause


# Real lines with where they were seen -> expected cause.
REAL_LINES = [
    # Dovecot 2.3 (Debian dovecot-pop3d 2.3.19.1 binary strings)
    ("-ERR [AUTH] Authentication failed.", "auth-failed"),
    ("-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
     "plaintext-auth-disallowed"),
    # AUTH PLAIN in clear with disable_plaintext_auth (observed on the wire by test_matrix_dovecot)
    ("-ERR [AUTH] Plaintext authentication disabled.", "plaintext-auth-disallowed"),
    ("-ERR [IN-USE] Mailbox is locked by another POP3 session.", "mailbox-in-use"),
    # [IN-USE] for a connection limit: the wording refines the code (observed on the wire)
    ("-ERR [IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)",
     "server-busy"),
    ("-ERR [SYS/TEMP] Couldn't sync mailbox.", "server-temporary-error"),
    ("-ERR [SYS/TEMP] Server shutting down.", "server-temporary-error"),
    ("-ERR Disconnected for inactivity.", "connection-dropped"),
    ("-ERR Too many bad commands.", "not-pop3"),
    ("-ERR Unsupported authentication mechanism.", "auth-mechanism-unsupported"),
    # Cyrus imap/pop3d.c
    ("-ERR [AUTH] Invalid login", "auth-failed"),
    ("-ERR [IN-USE] Unable to lock maildrop", "mailbox-in-use"),
    # Courier pop3login.c, qmail qmail-popup.c
    ("-ERR Login failed.", "auth-failed"),
    ("-ERR Temporary problem, please try again later", "server-temporary-error"),
    ("-ERR authorization failed", "auth-failed"),
    # Exchange / Office 365 (rust-pop3#17, getmail6#256, email-oauth2-proxy#244)
    ("-ERR Logon failure: unknown user name or bad password.", "auth-failed"),
    ("-ERR Authentication failure: unknown user name or bad password.", "auth-failed"),
    ("-ERR Protocol error. Connection is closed. 10", "auth-mechanism-unsupported"),
    # Gmail
    ("-ERR [AUTH] Username and password not accepted.", "auth-failed"),
    ("-ERR [SYS/PERM] Your account is not enabled for POP access. Please visit your Gmail "
     "settings page and enable your account for POP access.", "pop-disabled"),
    ("-ERR [AUTH] Web login required: https://support.google.com/mail/answer/78754",
     "web-login-required"),
    ("-ERR [AUTH] Application-specific password required: "
     "https://support.google.com/accounts/answer/185833", "app-password-required"),
    # RFC 1939 section 7 examples
    ("-ERR sorry, no mailbox for frated here", "user-unknown"),
    ("-ERR maildrop already locked", "mailbox-in-use"),
    ("-ERR invalid password", "auth-failed"),
]


@pytest.mark.parametrize(("line", "expected"), REAL_LINES)
def test_real_server_lines(line: str, expected: str) -> None:
    assert classify_response(line) == expected


def test_exchange_invalid_state_only_means_plaintext_refusal_at_login() -> None:
    line = "-ERR Command is not valid in this state."
    assert classify_response(line, stage="login") == "plaintext-auth-disallowed"
    assert classify_response(line, stage="mailbox") is None
    assert classify_response(line) is None


def test_definitive_codes_win_over_wording() -> None:
    assert classify_response("-ERR [IN-USE] Authentication failed.") == "mailbox-in-use"
    assert classify_response("-ERR [LOGIN-DELAY] invalid password") == "login-delay"
    assert classify_response("-ERR [SYS/TEMP] account is locked") == "server-temporary-error"


def test_broad_codes_are_refined_by_wording_and_default_without_it() -> None:
    assert classify_response("-ERR [AUTH] Your account has been suspended") == "account-locked"
    assert classify_response("-ERR [AUTH] computer says no") == "auth-failed"
    assert classify_response("-ERR [SYS/PERM] computer says no") == "server-permanent-error"


def test_code_given_separately_is_used() -> None:
    code = ResponseCode.parse("LOGIN-DELAY")
    assert classify_response("Minimum time between logins not reached", code=code) == (
        "login-delay"
    )
    detail = classify_detail("whatever", code=ResponseCode.parse("SYS/TEMP"))
    assert detail.cause == "server-temporary-error" and detail.source and "3206" in detail.source


def test_success_lines_and_unknown_text_are_not_classified() -> None:
    assert classify_response("+OK Logged in.") is None
    assert classify_response("Authentication failed", ok=True) is None
    assert classify_response("-ERR something nobody has ever said") is None
    assert classify_response("") is None


def test_status_line_inside_a_mail_program_message_is_found() -> None:
    assert classify_response("Error sending password: -ERR Login failed.") == "auth-failed"
    assert classify_response("The server responded: [IN-USE] busy") == "mailbox-in-use"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("+OK Dovecot (Debian) ready.", None),
        ("+OK The Microsoft Exchange POP3 service is ready. []", None),
        ("+OK Hello there.", None),
        ("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.", "not-pop3"),
        ("220 mail.example.com ESMTP Postfix", "not-pop3"),
        ("220-smtp.example.com ESMTP", "not-pop3"),
        ("HTTP/1.1 400 Bad Request", "not-pop3"),
        ("SSH-2.0-OpenSSH_9.2p1 Debian-2", "not-pop3"),
        ("\x15\x03\x03\x00\x02\x02\x46", "port-expects-tls"),
        ("-ERR [SYS/TEMP] Server shutting down.", "server-temporary-error"),
        ("-ERR Too many connections, try again later", "server-busy"),
        ("", None),
    ],
)
def test_classify_greeting(line: str, expected: str | None) -> None:
    assert classify_greeting(line) == expected
