"""The lab's scenarios: each is data plus, at most, a small behaviour hook.

A scenario's failure happens with the lab's *own* user and password: a client
configured exactly as ``pop3doctor lab`` prints still meets the failure, which
is what reproducing "it fails although my settings are right" needs.  Wrong
credentials always get `Scenario.auth_failure`.

Adding a scenario is one `_add(Scenario(...))` call below.  Server texts are
taken from real providers and servers where a source was found; each is cited
where it is defined.  ``expected_cause`` is the diagnosis cause code the
scenario must produce (see /work/shared/DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pop3doctor.i18n import Msg
from pop3doctor.lab import faults
from pop3doctor.lab.certs import CertKind
from pop3doctor.lab.faults import CommandHook, ConnectHook

MailboxKind = Literal["sample", "empty", "large"]

# --- Texts ----------------------------------------------------------------
# Greeting: Debian's Dovecot ("+OK Dovecot (Debian) ready.", as seen in
# docker-mailserver issue #1631).  The APOP timestamp is appended when APOP is
# offered (RFC 1939 section 7).
DOVECOT_GREETING = "Dovecot (Debian) ready."
# Dovecot's reply to bad credentials (same issue).
DOVECOT_AUTH_FAILED = "-ERR [AUTH] Authentication failed."
# Gmail's reply to a rejected password; the POP3 form of its SMTP
# "535-5.7.8 Username and Password not accepted" (PHPMailer issue #1708).
GMAIL_NOT_ACCEPTED = "-ERR [AUTH] Username and password not accepted."
# RFC 1939 section 7, the USER example: "S: -ERR sorry, no mailbox for frated here".
RFC1939_NO_MAILBOX = "-ERR sorry, no mailbox for {user} here"
# Gmail, account with 2-Step Verification: mailman/mailman issue #50 quotes
# "-ERR [AUTH] Application-specific password required: <help URL>"; the URL is
# the current one Gmail gives over IMAP (LukeSmithxyz/mutt-wizard issue #831).
GMAIL_APP_SPECIFIC = (
    "-ERR [AUTH] Application-specific password required: "
    "https://support.google.com/accounts/answer/185833"
)
# Gmail when a sign-in must first be confirmed in a browser ("web login
# required"); Gmail's IMAP form is "[ALERT] Please log in via your web browser".
GMAIL_WEB_LOGIN = "-ERR [AUTH] Web login required: https://support.google.com/mail/answer/78754"
# Gmail when "Enable POP" is off in the account settings.
GMAIL_POP_DISABLED = (
    "-ERR [SYS/PERM] Your account is not enabled for POP access. Please visit your "
    "Gmail settings page and enable your account for POP access."
)
# Exchange Online once basic authentication is off: USER/PASS gets the same
# text as a bad password (mattnenterprise/rust-pop3 issue #17 quotes it); the
# clue is CAPA, which offers only XOAUTH2/OAUTHBEARER and no USER.
EXCHANGE_LOGON_FAILURE = "-ERR Logon failure: unknown user name or bad password."
# No provider text found to cite for a locked account; RFC 3206 section 5
# [AUTH] says the credentials themselves are the problem, and the lab names
# the lock and the way out.
ACCOUNT_LOCKED = (
    "-ERR [AUTH] Account locked after too many failed logins. "
    "Sign in at https://mail.example.jp/unlock to unlock it."
)
# Cyrus IMAP's pop3d (imap/pop3d.c) for a maildrop another session holds.
CYRUS_IN_USE = "-ERR [IN-USE] Unable to lock maildrop"
# Cyrus pop3d with popminpoll set: "Logins must be at least %d minute%s apart".
CYRUS_LOGIN_DELAY = "-ERR [LOGIN-DELAY] Logins must be at least {minutes} minutes apart"
# Dovecot pop3-login when its auth service fails temporarily.
DOVECOT_TEMP_FAIL = "-ERR [SYS/TEMP] Temporary authentication failure."
# Cyrus pop3d when the maildrop cannot be opened.
CYRUS_SYS_PERM = "-ERR [SYS/PERM] Unable to open maildrop"
# Dovecot with disable_plaintext_auth=yes, before TLS.
DOVECOT_PLAINTEXT_DISALLOWED = (
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
)


@dataclass(frozen=True)
class Scenario:
    """One way a POP3 server behaves (healthy, or failing in one specific way)."""

    name: str
    #: One line, ja + en, for ``pop3doctor lab --list``.
    description: Msg
    #: The diagnosis cause code this scenario must produce.
    expected_cause: str | None
    #: Greeting text after "+OK " (the APOP timestamp is appended if ``apop``).
    greeting: str = DOVECOT_GREETING
    #: Offer APOP (timestamp in the greeting).
    apop: bool = True
    #: Hold an APOP secret for the user.  False: the greeting still carries a
    #: timestamp but every APOP is refused (with ``auth_failure``), as on servers
    #: that keep only password hashes (issue 13 item 1).
    apop_secret: bool = True
    #: Listen on the plain (STLS) port at all.
    plain_port: bool = True
    #: Offer STLS on the plain port.
    stls: bool = True
    #: Refuse USER/PASS and SASL PLAIN/LOGIN until TLS is active.
    plaintext_needs_tls: bool = False
    #: Accept password logins (USER/PASS, APOP, PLAIN, LOGIN, CRAM-MD5).  When
    #: False every password login gets ``login_reply`` whatever the password.
    password_login: bool = True
    #: SASL mechanisms offered in CAPA and AUTH.
    sasl: tuple[str, ...] = ("PLAIN", "LOGIN", "CRAM-MD5")
    #: Reply to USER instead of "+OK" ("{user}" is filled in).
    user_reply: str | None = None
    #: Reply to a login with the right credentials instead of "+OK" (the
    #: scenario's failure); None = log in.
    login_reply: str | None = None
    #: Reply to wrong credentials.
    auth_failure: str = DOVECOT_AUTH_FAILED
    #: Which certificate TLS presents (both ports).
    certificate: CertKind = "valid"
    #: What the maildrop holds.
    mailbox: MailboxKind = "sample"
    #: Extra CAPA lines.
    capa_extra: tuple[str, ...] = ()
    #: Behaviour before the greeting (see `pop3doctor.lab.faults`).
    on_connect: ConnectHook | None = None
    #: Behaviour in TRANSACTION state (see `pop3doctor.lab.faults`).
    on_transaction: CommandHook | None = None


SCENARIOS: dict[str, Scenario] = {}


def _add(scenario: Scenario) -> None:
    SCENARIOS[scenario.name] = scenario


_add(Scenario(
    "healthy",
    Msg("正常なサーバー（全機能が正しく動作）", "A correct POP3 server (everything works)"),
    "ok",
))
_add(Scenario(
    "wrong-password",
    Msg("パスワードが違うと言われる", "The password is rejected"),
    "auth-failed",
    login_reply=GMAIL_NOT_ACCEPTED,
))
_add(Scenario(
    "unknown-user",
    Msg("ユーザー名（アカウント）が存在しないと言われる", "The user name is unknown"),
    "user-unknown",
    user_reply=RFC1939_NO_MAILBOX,
    login_reply=RFC1939_NO_MAILBOX,
))
_add(Scenario(
    "app-password-required",
    Msg("アプリパスワードが必要（Gmail 形式）", "An app password is required (Gmail style)"),
    "app-password-required",
    login_reply=GMAIL_APP_SPECIFIC,
))
_add(Scenario(
    "web-login-required",
    Msg("ブラウザでのログイン・本人確認が必要", "A web sign-in or security check is required"),
    "web-login-required",
    login_reply=GMAIL_WEB_LOGIN,
))
_add(Scenario(
    "pop-disabled",
    Msg("アカウント設定で POP が無効", "POP access is disabled in the account settings"),
    "pop-disabled",
    login_reply=GMAIL_POP_DISABLED,
))
_add(Scenario(
    "oauth-required",
    Msg("パスワードでのログイン不可、OAuth2 のみ（XOAUTH2/OAUTHBEARER）",
        "Password login disabled; only OAuth2 (XOAUTH2/OAUTHBEARER)"),
    "oauth-required",
    apop=False,
    password_login=False,
    sasl=("XOAUTH2", "OAUTHBEARER"),
    login_reply=EXCHANGE_LOGON_FAILURE,
))
_add(Scenario(
    "account-locked",
    Msg("アカウントがロックされている", "The account is locked"),
    "account-locked",
    login_reply=ACCOUNT_LOCKED,
))
_add(Scenario(
    "mailbox-in-use",
    Msg("メールボックスが他の接続で使用中（[IN-USE]）",
        "The mailbox is in use by another session ([IN-USE])"),
    "mailbox-in-use",
    login_reply=CYRUS_IN_USE,
))
_add(Scenario(
    "login-delay",
    Msg("ログイン間隔が短すぎる（[LOGIN-DELAY]）", "Logins too frequent ([LOGIN-DELAY])"),
    "login-delay",
    # login_reply is filled in by the session from the login_delay option, and
    # CAPA advertises "LOGIN-DELAY <seconds>" (RFC 2449 section 6.5).
    login_reply=CYRUS_LOGIN_DELAY,
    capa_extra=("LOGIN-DELAY {login_delay}",),
))
_add(Scenario(
    "sys-temp",
    Msg("サーバーの一時的なエラー（[SYS/TEMP]）", "Temporary server error ([SYS/TEMP])"),
    "server-temporary-error",
    login_reply=DOVECOT_TEMP_FAIL,
))
_add(Scenario(
    "sys-perm",
    Msg("サーバーの恒久的なエラー（[SYS/PERM]）", "Permanent server error ([SYS/PERM])"),
    "server-permanent-error",
    login_reply=CYRUS_SYS_PERM,
))
_add(Scenario(
    "plaintext-auth-disallowed",
    Msg("暗号化（STLS）前のパスワード送信を拒否", "Plaintext login refused until STLS"),
    "plaintext-auth-disallowed",
    apop=False,
    plaintext_needs_tls=True,
))
_add(Scenario(
    "apop-no-secret",
    Msg("APOP の timestamp はあるが APOP 用のパスワードがない（通常のパスワードは使える）",
        "APOP timestamp in the greeting but no APOP secret (the normal password works)"),
    "ok",
    apop_secret=False,
))
_add(Scenario(
    "no-stls",
    Msg("STLS（STARTTLS）に対応していない", "STLS (STARTTLS) is not offered"),
    "starttls-unavailable",
    stls=False,
))
_add(Scenario(
    "tls-only",
    Msg("SSL/TLS ポートのみ（平文ポートは閉じている）",
        "Implicit TLS port only (the plain port is closed)"),
    "port-expects-tls",
    plain_port=False,
))
_add(Scenario(
    "cert-expired",
    Msg("サーバー証明書の有効期限切れ", "The server certificate has expired"),
    "cert-expired",
    certificate="expired",
))
_add(Scenario(
    "cert-self-signed",
    Msg("自己署名のサーバー証明書", "Self-signed server certificate"),
    "cert-untrusted",
    certificate="self-signed",
))
_add(Scenario(
    "cert-wrong-host",
    Msg("証明書のホスト名がサーバー名と一致しない",
        "The certificate is for another host name"),
    "cert-hostname-mismatch",
    certificate="wrong-host",
))
_add(Scenario(
    "cert-intercepted",
    Msg("セキュリティソフトが TLS を傍受（メールシールドの CA が発行）",
        "TLS intercepted by security software (issued by a mail-shield CA)"),
    "tls-intercepted",
    certificate="intercepted",
))
_add(Scenario(
    "slow-greeting",
    Msg("接続後のあいさつ（+OK）が遅い、または来ない",
        "The greeting comes late, or never"),
    "greeting-timeout",
    on_connect=faults.slow_greeting,
))
_add(Scenario(
    "busy",
    Msg("接続数が多すぎて受け付けない", "Too many connections; the server refuses"),
    "server-busy",
    on_connect=faults.busy,
))
_add(Scenario(
    "drop-mid-retr",
    Msg("メッセージ受信の途中で切断される", "The connection drops halfway through a message"),
    "connection-dropped",
    on_transaction=faults.drop_mid_retr,
))
_add(Scenario(
    "not-pop3",
    Msg("POP3 ではないサービスが応答（IMAP/SMTP/HTTP）",
        "Another service answers (IMAP, SMTP or HTTP)"),
    "not-pop3",
    on_connect=faults.not_pop3,
))
_add(Scenario(
    "garbage",
    Msg("ログイン後の応答が壊れている", "Malformed responses after login"),
    "retrieval-failed",
    on_transaction=faults.garbage,
))
_add(Scenario(
    "huge-line",
    Msg("ログイン後に極端に長い応答行が返る", "An enormous response line after login"),
    "retrieval-failed",
    on_transaction=faults.huge_line,
))
_add(Scenario(
    "empty-mailbox",
    Msg("メールボックスが空（他の端末が受信して削除済み）",
        "The mailbox is empty (another device downloaded and deleted)"),
    "mailbox-empty",
    mailbox="empty",
))
_add(Scenario(
    "large-message",
    Msg("非常に大きなメッセージがある（既定 30 MiB）",
        "A very large message (30 MiB by default)"),
    "message-too-large",
    mailbox="large",
))


def get_scenario(scenario: str | Scenario) -> Scenario:
    """Look a scenario up by name (a `Scenario` is returned as it is)."""
    if isinstance(scenario, Scenario):
        return scenario
    try:
        return SCENARIOS[scenario]
    except KeyError:
        raise KeyError(
            f"unknown lab scenario {scenario!r}; known: {', '.join(SCENARIOS)}"
        ) from None
