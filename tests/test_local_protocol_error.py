"""A LocalProtocolError is a ProtocolError, but our bug: no handler makes it a verdict about the server.

Each handler that turns a peer's `ProtocolError` into a finding (the
diagnosis's capabilities step, fetch's stop reason) or swallows it (the close
after QUIT) is driven twice against the lab: once with a peer error, which
it handles as before, and once with a `LocalProtocolError`, which must get
through.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import NoReturn

import pytest

from pop3doctor.client import Pop3Client
from pop3doctor.diagnosis.model import Settings
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.endpoint import Endpoint, Security
from pop3doctor.lab import LabServer
from pop3doctor.lab.server import LAB_PASSWORD
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.protocol.errors import LocalProtocolError, ProtocolError
from pop3doctor.protocol.events import Event
from pop3doctor.sync.engine import Account, fetch_account
from pop3doctor.sync.maildir import MaildirStore

FAST = Timeouts(connect=2, greeting=2, command=2)
ERRORS = [ProtocolError("peer garbage"), LocalProtocolError("we misused the protocol")]


def _raiser(error: Exception) -> Callable[..., Coroutine[object, object, NoReturn]]:
    async def fail(*args: object, **kwargs: object) -> NoReturn:
        raise error

    return fail


@pytest.mark.parametrize(("method", "stage"), [("capa", "capabilities"), ("login", "login")])
@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
async def test_diagnosis_steps(
    error: Exception,
    method: str,
    stage: str,
    lab_factory: Callable[..., LabServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Pop3Client, method, _raiser(error))
    ca = tmp_path / "ca.pem"
    async with lab_factory("healthy") as lab:
        lab.write_ca(str(ca))
        settings = Settings(lab.host, lab.tls_port, "ssl", lab.user, ca_file=str(ca), timeout=2)
        findings = diagnose(settings, LAB_PASSWORD, extra_ports=(lab.tls_port,))
        if isinstance(error, LocalProtocolError):
            with pytest.raises(LocalProtocolError):
                async for _ in findings:
                    pass
            return
        stages = {f.stage: f.cause async for f in findings}
    assert stages[stage] == "retrieval-failed"


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
async def test_fetch_stop_reason(
    error: Exception, lab_factory: Callable[..., LabServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Pop3Client, "uidl", _raiser(error))
    ca = tmp_path / "ca.pem"
    async with lab_factory("healthy") as lab:
        lab.write_ca(str(ca))
        account = Account(Endpoint(lab.host, lab.tls_port, Security.SSL, lab.user, ca_file=str(ca)))
        run = fetch_account(account, LAB_PASSWORD, MaildirStore(tmp_path / "M"), tmp_path / "s")
        if isinstance(error, LocalProtocolError):
            with pytest.raises(LocalProtocolError):
                await run
            return
        report = await run
    assert (report.stop_cause, report.stop_stage) == ("retrieval-failed", "list")


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
async def test_close_after_quit(
    error: Exception, lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    async with lab_factory("healthy") as lab:
        lab.write_ca(str(ca))
        client = Pop3Client(lab.host, lab.tls_port, security="ssl", ca_file=str(ca), timeouts=FAST)
        try:
            await client.connect()
            real_next_event = client._next_event
            calls = 0

            async def next_event(phase: str = "command") -> Event:
                # The first event is QUIT's +OK; the failure comes while waiting for the close.
                nonlocal calls
                calls += 1
                if calls > 1:
                    raise error
                return await real_next_event(phase)

            client._next_event = next_event  # type: ignore[method-assign]
            if isinstance(error, LocalProtocolError):
                with pytest.raises(LocalProtocolError):
                    await client.quit()
            else:
                await client.quit()  # the peer's misbehaviour after QUIT is ignored
            assert calls == 2
        finally:
            await client.aclose()
