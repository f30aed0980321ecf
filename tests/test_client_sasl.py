"""SASL edge cases of the client against the lab over real sockets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pop3doctor.client import Pop3Client
from pop3doctor.errors import AuthError
from pop3doctor.lab import LabServer


@pytest.mark.parametrize(("token_len", "two_step"), [(40, False), (400, True)])
async def test_xoauth2_initial_response_or_two_step(
    lab_factory: Callable[..., LabServer], tmp_path: Path, token_len: int, two_step: bool
) -> None:
    """A token too long for RFC 2449's 255-octet command line goes in a second step
    (RFC 5034 s4); either way the server's JSON error challenge is answered and kept."""
    async with lab_factory("oauth-required") as lab:
        ca = tmp_path / "ca.pem"
        lab.write_ca(str(ca))
        client = Pop3Client(lab.host, lab.tls_port, security="ssl", ca_file=str(ca))
        try:
            await client.connect()
            assert set(client.capabilities.sasl) == {"XOAUTH2", "OAUTHBEARER"}
            with pytest.raises(AuthError) as info:
                await client.login_oauth2("alice@example.test", "t" * token_len, mechanism="XOAUTH2")
        finally:
            await client.aclose()
    sent = [line.text for line in client.transcript.lines if line.direction == "C"]
    auth_line = next(t for t in sent if t.startswith("AUTH"))
    assert (auth_line == "AUTH XOAUTH2") is two_step
    assert info.value.sasl_error is not None and b"status" in info.value.sasl_error
    assert not info.value.status.ok
