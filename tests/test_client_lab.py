"""Every lab scenario through the project's own client: the exact typed evidence each produces.

The diagnosis turns these into cause codes (tests/test_diagnose_lab.py); here
the layer below is pinned: which exception class, with which attributes,
comes out of net/, protocol/ and the client for each failure.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pop3doctor.client import Pop3Client
from pop3doctor.errors import AuthError, PolicyError, ServerError
from pop3doctor.lab import LabServer
from pop3doctor.lab.scenarios import SCENARIOS
from pop3doctor.net.errors import CertificateProblem, ConnectRefused, ReadTimeout, TlsHandshakeFailed
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.protocol.errors import LineTooLong, LocalProtocolError, NotPop3Greeting, ProtocolError, RemoteClosed

FAST = Timeouts(resolve=2, connect=2, tls=2, greeting=1.5, command=5)

# scenario -> (server response code expected on the -ERR, wording that must be in it)
LOGIN_REFUSALS = {
    "wrong-password": ("AUTH", "not accepted"),
    "unknown-user": (None, "no mailbox"),
    "app-password-required": ("AUTH", "Application-specific password required"),
    "web-login-required": ("AUTH", "Web login required"),
    "pop-disabled": ("SYS/PERM", "not enabled for POP"),
    "account-locked": ("AUTH", "locked"),
    "mailbox-in-use": ("IN-USE", "lock"),
    "login-delay": ("LOGIN-DELAY", "minutes apart"),
    "sys-temp": ("SYS/TEMP", "Temporary"),
    "sys-perm": ("SYS/PERM", "maildrop"),
}


async def session(lab: LabServer, ca: Path, *, port: int | None = None, security: str = "ssl") -> Pop3Client:
    return Pop3Client(lab.host, port or lab.tls_port, security=security, ca_file=str(ca), timeouts=FAST)


@pytest.fixture
def ca_path(tmp_path: Path) -> Path:
    return tmp_path / "ca.pem"


@pytest.mark.parametrize("scenario", sorted(LOGIN_REFUSALS))
async def test_login_refusals_carry_code_and_text(
    lab_factory: Callable[..., LabServer], ca_path: Path, scenario: str
) -> None:
    code, words = LOGIN_REFUSALS[scenario]
    async with lab_factory(scenario) as lab:
        lab.write_ca(str(ca_path))
        client = await session(lab, ca_path)
        try:
            await client.connect()
            with pytest.raises(AuthError) as info:
                await client.login(lab.user, lab.password, mechanism="USER")
        finally:
            await client.aclose()
    assert info.value.response_code == code
    assert words.lower() in info.value.text.lower()


async def test_healthy_and_empty(lab_factory: Callable[..., LabServer], ca_path: Path) -> None:
    for scenario, expected in (("healthy", 4), ("empty-mailbox", 0)):
        async with lab_factory(scenario) as lab:
            lab.write_ca(str(ca_path))
            async with await session(lab, ca_path) as client:
                await client.login(lab.user, lab.password)
                assert (await client.stat())[0] == expected


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [
        ("cert-expired", "expired"),
        ("cert-self-signed", "self-signed"),
        ("cert-wrong-host", "hostname-mismatch"),
        ("cert-intercepted", "untrusted"),
    ],
)
async def test_certificate_scenarios(
    lab_factory: Callable[..., LabServer], ca_path: Path, scenario: str, kind: str
) -> None:
    async with lab_factory(scenario) as lab:
        lab.write_ca(str(ca_path))
        client = await session(lab, ca_path)
        with pytest.raises(CertificateProblem) as info:
            await client.connect()
        await client.aclose()
    assert info.value.kind == kind
    assert info.value.cert is not None  # facts are there even though verification failed
    if scenario == "cert-intercepted":
        assert "Avast" in (info.value.cert.issuer_cn or "")


async def test_starttls_certificate_problem_still_has_facts(
    lab_factory: Callable[..., LabServer], ca_path: Path
) -> None:
    async with lab_factory("cert-expired") as lab:
        lab.write_ca(str(ca_path))
        client = await session(lab, ca_path, port=lab.port, security="starttls")
        with pytest.raises(CertificateProblem) as info:
            await client.connect()
        await client.aclose()
    assert info.value.kind == "expired" and info.value.cert is not None


async def test_no_stls_and_plaintext(lab_factory: Callable[..., LabServer], ca_path: Path) -> None:
    async with lab_factory("no-stls") as lab:
        lab.write_ca(str(ca_path))
        client = await session(lab, ca_path, port=lab.port, security="starttls")
        with pytest.raises(PolicyError) as info:
            await client.connect()
        await client.aclose()
    assert info.value.reason == "starttls-unavailable"
    async with lab_factory("plaintext-auth-disallowed") as lab:
        client = Pop3Client(lab.host, lab.port, security="plain", allow_plaintext=True, timeouts=FAST)
        try:
            await client.connect()
            with pytest.raises(AuthError) as auth:
                await client.login(lab.user, lab.password, mechanism="USER")
        finally:
            await client.aclose()
    assert "plaintext" in auth.value.text.lower()


async def test_tls_only_and_wrong_modes(lab_factory: Callable[..., LabServer], ca_path: Path) -> None:
    async with lab_factory("tls-only") as lab:
        lab.write_ca(str(ca_path))
        assert lab.port is None
        # Plain text to the TLS port: the server waits for a TLS hello, we for a greeting.
        client = await session(lab, ca_path, port=lab.tls_port, security="starttls")
        with pytest.raises(ReadTimeout) as info:
            await client.connect()
        await client.aclose()
        assert info.value.phase == "greeting"
    async with lab_factory("healthy") as lab:
        lab.write_ca(str(ca_path))
        # TLS to the plain port: the server's "+OK" is not a TLS record.
        client = await session(lab, ca_path, port=lab.port)
        with pytest.raises(TlsHandshakeFailed) as tls:
            await client.connect()
        await client.aclose()
        assert tls.value.reason == "wrong-version-number"
        closed_port = lab.port
    client = Pop3Client("127.0.0.1", closed_port, security="plain", timeouts=FAST)
    with pytest.raises(ConnectRefused):
        await client.connect()


@pytest.mark.parametrize(("scenario", "error"), [("slow-greeting", ReadTimeout), ("not-pop3", NotPop3Greeting)])
async def test_greeting_faults(
    lab_factory: Callable[..., LabServer], ca_path: Path, scenario: str, error: type[Exception]
) -> None:
    async with lab_factory(scenario) as lab:
        lab.write_ca(str(ca_path))
        client = await session(lab, ca_path)
        with pytest.raises(error):
            await client.connect()
        await client.aclose()


async def test_busy_greeting(lab_factory: Callable[..., LabServer], ca_path: Path) -> None:
    async with lab_factory("busy") as lab:
        lab.write_ca(str(ca_path))
        client = await session(lab, ca_path)
        with pytest.raises(ServerError) as info:
            await client.connect()
        await client.aclose()
    assert info.value.stage == "greeting" and info.value.response_code == "SYS/TEMP"


@pytest.mark.parametrize(
    ("scenario", "error"),
    [("drop-mid-retr", RemoteClosed), ("garbage", ProtocolError), ("huge-line", LineTooLong)],
)
async def test_transaction_faults(
    lab_factory: Callable[..., LabServer], ca_path: Path, scenario: str, error: type[Exception]
) -> None:
    async with lab_factory(scenario) as lab:
        lab.write_ca(str(ca_path))
        client = await session(lab, ca_path)
        try:
            await client.connect()
            await client.login(lab.user, lab.password)
            with pytest.raises(error) as info:
                if scenario == "drop-mid-retr":
                    await client.retr_bytes(1)
                else:
                    await client.stat()
        finally:
            await client.aclose()
    # LocalProtocolError is a ProtocolError too, but it would be our bug, not the fault injected
    assert not isinstance(info.value, LocalProtocolError)
    if isinstance(info.value, RemoteClosed):
        assert info.value.in_body and info.value.during == "RETR"


async def test_large_message_is_announced_and_streams(lab_factory: Callable[..., LabServer], ca_path: Path) -> None:
    async with lab_factory("large-message", large_size=3 * 1024 * 1024) as lab:
        lab.write_ca(str(ca_path))
        async with await session(lab, ca_path) as client:
            await client.login(lab.user, lab.password)
            sizes = await client.list()
            big = max(sizes, key=lambda n: sizes[n])
            assert sizes[big] >= 3 * 1024 * 1024
            total = 0
            async for chunk in client.retr(big):
                total += len(chunk)
            assert total == sizes[big]


def test_every_scenario_has_a_client_level_test() -> None:
    covered = set(LOGIN_REFUSALS) | {
        "healthy", "empty-mailbox", "cert-expired", "cert-self-signed", "cert-wrong-host", "cert-intercepted",
        "no-stls", "plaintext-auth-disallowed", "tls-only", "slow-greeting", "not-pop3", "busy", "drop-mid-retr",
        "garbage", "huge-line", "large-message", "oauth-required",  # oauth: tests/test_client_sasl.py
        "apop-no-secret",
    }
    assert covered == set(SCENARIOS)


async def test_auto_is_normal_password_even_with_an_apop_timestamp(lab_factory) -> None:
    # Issue 13 item 1: an APOP timestamp in the greeting does not make "auto" use APOP;
    # mail programs' "normal password" is USER/PASS (or AUTH PLAIN/LOGIN when offered).
    from pop3doctor.client import Pop3Client

    async with lab_factory("healthy") as lab:
        client = Pop3Client(lab.host, lab.port, security="plain", allow_plaintext=True)
        try:
            await client.connect()
            await client.capa()
            assert client.greeting is not None
            assert client.greeting.apop_timestamp is not None, "the lab's greeting should carry one"
            assert client.choose_mechanism() in ("PLAIN", "LOGIN", "USER")
        finally:
            await client.aclose()


async def test_apop_without_a_secret_refuses_but_auto_logs_in(
    lab_factory: Callable[..., LabServer], ca_path: Path
) -> None:
    # Issue 13 item 1: a timestamp in the greeting does not make APOP usable.
    async with lab_factory("apop-no-secret") as lab:
        lab.write_ca(str(ca_path))
        async with await session(lab, ca_path) as client:
            assert client.greeting is not None and client.greeting.apop_timestamp
            with pytest.raises(AuthError):
                await client.login(lab.user, lab.password, mechanism="APOP")
        async with await session(lab, ca_path) as client:
            await client.login(lab.user, lab.password)
            assert client.logged_in
        assert "APOP" not in lab.logins and len(lab.logins) == 1
