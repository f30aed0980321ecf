"""The login step: one attempt with the user's password, and what a refusal means.

The password is used for at most one login attempt per run by default
(accounts lock after a few failures); ``--try-username-forms`` allows one
more, with the full e-mail address as the user name.  Which refusal leads to
what (the alternatives probe, the OAuth reading) is data: causes.toml.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection

from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.alternatives import (
    alternatives_evidence,
    certificate_remedy,
    no_encryption_found,
    no_mode_cause,
)
from pop3doctor.diagnosis.model import Finding, Settings, Status, Suggestion
from pop3doctor.diagnosis.state import DIAGNOSABLE, Diagnosable, RunState, evidence_of, filled, is_ip, need
from pop3doctor.endpoint import Security
from pop3doctor.errors import AuthError, PolicyError
from pop3doctor.i18n import Msg
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.evidence import DIGEST_AUTH, cause_for_error, cause_for_refused_login
from pop3doctor.knowledge.hostnames import is_mail_host_label
from pop3doctor.protocol.errors import LocalProtocolError

#: SASL mechanisms that take a bearer token, not a password.
TOKEN_SASL = frozenset({"XOAUTH2", "OAUTHBEARER"})


def _full_address(settings: Settings, domain: str | None) -> str | None:
    """The user name as a full address, when the user gave only the local part."""
    if "@" in settings.user:
        return None
    if domain is None:
        labels = settings.host.split(".")
        if is_ip(settings.host) or len(labels) < 2:
            return None
        drop = is_mail_host_label(labels[0])
        domain = ".".join(labels[1:] if drop and len(labels) > 2 else labels)
    return f"{settings.user}@{domain}"


def conditions(sasl: Collection[str]) -> frozenset[str]:
    """The causes.toml override conditions that hold for the offered SASL mechanisms."""
    return frozenset({"token-sasl-only"}) if sasl and set(sasl) <= TOKEN_SASL else frozenset()


async def login(state: RunState) -> AsyncIterator[Finding]:
    """Log in once; provides ``mechanism``.  Without a password (or encryption) it stops here."""
    run, s = state.run, state.run.settings
    client, caps = need(state.client), need(state.caps)
    if run.security is Security.PLAIN and not s.allow_plaintext:
        # We never send a password in clear text unless told to.  Say what
        # to change instead: STARTTLS on this port, or SSL/TLS on 995.
        probed = await alternatives_evidence(run)
        evidence = {"stls_offered": caps.stls, "capabilities": caps.to_dict(), **probed}
        if run.report.suggested:
            cause = "encryption-off"
        elif no_encryption_found(probed["alternatives"]) and not caps.stls:
            cause = "no-encryption-offered"
        else:
            # An encrypted mode refused only for its certificate is the finding (issue 13 item 5).
            cause = no_mode_cause(probed) or "starttls-unavailable"
        yield run.problem("login", cause, evidence=evidence)
        return
    password = state.options.password
    if password is None:
        yield run.skipped("login", m.LOGIN_NO_PASSWORD)
        return
    mechanism = client.choose_mechanism() if s.auth == "auto" else s.auth.upper()
    await client.login(s.user, password, mechanism=mechanism)
    yield run.passed("login", m.LOGIN_OK, {"mechanism": mechanism}, mechanism=mechanism)
    if not client.encrypted:
        # The password went in clear, as the user allowed: probe the encrypted
        # modes and name the one that works, or say that none exists (issue 13 item 4).
        evidence = await alternatives_evidence(run)
        remedy = filled(m.LOGIN_PLAINTEXT_USE_TLS if run.report.suggested else m.LOGIN_PLAINTEXT_NO_TLS, run.values)
        # Encryption offered, but its certificate stops it: say that (issue 13 item 5).
        remedy = certificate_remedy(evidence) or remedy
        warning = Finding(
            "login",
            Status.WARN,
            m.LOGIN_PLAINTEXT_WARNING,
            cause="encryption-off",
            evidence=evidence,
            remedy=[remedy],
            suggestion=run.report.suggested,
        )
        run.report.findings.append(warning)
        yield warning
    state.mechanism = mechanism


async def login_failed(state: RunState, exc: Diagnosable) -> AsyncIterator[Finding]:
    run = state.run
    sasl = need(state.caps).sasl
    if isinstance(exc, PolicyError) and _tls_first(state, exc):
        # CAPA before STLS lists no normal-password login but offers STLS: the
        # server takes the password only once encrypted (Cyrus allowplaintext: no,
        # Dovecot disable_plaintext_auth).  Say so without sending it (issue 13 item 2).
        evidence = evidence_of(exc) | {"sasl": sorted(set(sasl)), "stls_offered": True}
        evidence.update(await alternatives_evidence(run))
        yield run.problem("login", "plaintext-auth-disallowed", evidence=evidence)
    elif isinstance(exc, PolicyError):
        # We did not send the password: no offered method fits (or it would go in clear).
        cause = get_cause(cause_for_error(exc)).reported_as("login-withheld", conditions(sasl))
        yield run.problem("login", cause, evidence=evidence_of(exc) | {"sasl": sorted(set(sasl))})
    elif isinstance(exc, AuthError):
        yield await _refused(state, exc, conditions(sasl))
    else:
        yield run.problem("login", cause_for_error(exc), evidence=evidence_of(exc))


def _tls_first(state: RunState, exc: PolicyError) -> bool:
    """No normal-password login offered in clear, while STLS is: the password waits for TLS."""
    client, caps = need(state.client), need(state.caps)
    return exc.reason == "mechanism-unavailable" and not client.encrypted and caps.known and caps.stls


async def _refused(state: RunState, exc: AuthError, holding: frozenset[str]) -> Finding:
    """The server refused the login: read its answer, try the full address if allowed."""
    run, s, options = state.run, state.run.settings, state.options
    cause = get_cause(cause_for_error(exc)).reported_as("login", holding)
    evidence = evidence_of(exc)
    extra: list[Msg] = []
    note: Msg | None = None
    read = cause_for_refused_login(cause, s.auth)
    if read != cause:
        # A bare "no" to APOP or CRAM-MD5: name the method, not the password.
        cause = read
        evidence["mechanism"] = DIGEST_AUTH[s.auth]
        note = m.fmt(m.DIGEST_LOGIN_AMBIGUOUS, mechanism=DIGEST_AUTH[s.auth])
    full = _full_address(s, options.email_domain)
    if cause in ("auth-failed", "user-unknown") and full and options.password is not None:
        if options.try_username_forms:
            worked = await _try_user(state, full, options.password)
            evidence["tried_username"] = {"user": full, "ok": worked}
            if worked:
                cause = "username-format"
                run.suggest(Suggestion(s.host, s.port, s.security, full))
        else:
            extra.append(filled(m.USERNAME_HINT, {"full": full}))
    if get_cause(cause).probes_alternatives("login") and not need(state.client).encrypted:
        # Over TLS servers often take what they refused in clear.  Already encrypted,
        # another port or mode would not change the login: suggest none.
        evidence.update(await alternatives_evidence(run))
    return run.problem("login", cause, evidence=evidence, extra_remedy=extra, note=note)


async def _try_user(state: RunState, user: str, password: str) -> bool:
    """One more login with another user-name form (only with --try-username-forms)."""
    client = state.run.new_client()
    try:
        await client.connect()
        await client.login(user, password)
        await client.quit()
        return True
    except LocalProtocolError:
        raise  # our own bug, not an answer about this user-name form
    except DIAGNOSABLE:  # any failure of the server or the network: this form did not work
        return False
    finally:
        await client.aclose()
