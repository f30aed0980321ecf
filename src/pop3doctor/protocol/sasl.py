"""SASL mechanisms for POP3 AUTH (RFC 5034) and the APOP digest (RFC 1939 s7).

Each mechanism is a small object: an optional initial response, then one
answer per server challenge.  Pure functions of their inputs: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import ClassVar

from pop3doctor.protocol.errors import LocalProtocolError


def apop_digest(timestamp: str, secret: str) -> str:
    """MD5 of the greeting's timestamp and the shared secret, in lower-case hex."""
    return hashlib.md5((timestamp + secret).encode("utf-8"), usedforsecurity=False).hexdigest()


class Mechanism:
    name: ClassVar[str]
    #: True when the mechanism puts a reusable secret on the wire (PLAIN, LOGIN,
    #: bearer tokens): only acceptable inside TLS unless the user said otherwise.
    sends_secret: ClassVar[bool] = True

    def initial_response(self) -> bytes | None:
        return None

    def respond(self, challenge: bytes) -> bytes | None:
        """Answer a challenge; ``None`` means cancel (the exchange cannot go on)."""
        return None


class Plain(Mechanism):
    """RFC 4616: ``authzid NUL authcid NUL password`` as the initial response."""

    name = "PLAIN"

    def __init__(self, user: str, password: str) -> None:
        self._data = b"\0" + user.encode() + b"\0" + password.encode()

    def initial_response(self) -> bytes:
        return self._data

    def respond(self, challenge: bytes) -> bytes | None:
        # Only reached in two-step mode (empty challenge first).
        return self._data if not challenge else None


class Login(Mechanism):
    """The de-facto LOGIN mechanism: user name, then password, one challenge each."""

    name = "LOGIN"

    def __init__(self, user: str, password: str) -> None:
        self._answers = [user.encode(), password.encode()]

    def respond(self, challenge: bytes) -> bytes | None:
        return self._answers.pop(0) if self._answers else None


class CramMd5(Mechanism):
    """RFC 2195: ``user SP hex(HMAC-MD5(password, challenge))``."""

    name = "CRAM-MD5"
    sends_secret = False

    def __init__(self, user: str, password: str) -> None:
        self._user = user
        self._password = password
        self._done = False

    def respond(self, challenge: bytes) -> bytes | None:
        if self._done:
            return None
        self._done = True
        digest = hmac.new(self._password.encode(), challenge, "md5").hexdigest()
        return f"{self._user} {digest}".encode()


class _BearerToken(Mechanism):
    """The exchange both token mechanisms share: the token as the initial
    response, or after an empty challenge when the server wants two steps; any
    other challenge is the server's JSON error, kept in ``error`` and answered
    with ``error_reply`` so that the server sends its final -ERR."""

    #: The client's answer to the error challenge.
    error_reply: ClassVar[bytes]
    #: The server's error challenge (JSON), kept for the diagnosis.
    error: bytes | None = None

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._sent = False

    def initial_response(self) -> bytes:
        return self._data

    def respond(self, challenge: bytes) -> bytes | None:
        if not challenge and not self._sent:
            # Two-step mode: the server asked for the token after a bare "AUTH NAME".
            self._sent = True
            return self._data
        self.error = challenge
        return self.error_reply


class XOAuth2(_BearerToken):
    """Google/Microsoft XOAUTH2.  On failure the server sends a JSON error as a
    challenge and expects an empty response before its final -ERR."""

    name = "XOAUTH2"
    error_reply = b""

    def __init__(self, user: str, token: str) -> None:
        super().__init__(f"user={user}\x01auth=Bearer {token}\x01\x01".encode())


class OAuthBearer(_BearerToken):
    """RFC 7628 OAUTHBEARER; on failure the server sends a JSON error challenge
    and the client answers with a single ``%x01`` (RFC 7628 s3.2.3)."""

    name = "OAUTHBEARER"
    error_reply = b"\x01"

    def __init__(self, user: str, token: str, host: str = "", port: int = 0) -> None:
        gs2 = f"n,a={user.replace('=', '=3D').replace(',', '=2C')},"
        extras = (f"\x01host={host}" if host else "") + (f"\x01port={port}" if port else "")
        super().__init__(f"{gs2}{extras}\x01auth=Bearer {token}\x01\x01".encode())


PASSWORD_MECHANISMS: dict[str, type[Plain | Login | CramMd5]] = {
    "PLAIN": Plain,
    "LOGIN": Login,
    "CRAM-MD5": CramMd5,
}
TOKEN_MECHANISMS: dict[str, type[XOAuth2 | OAuthBearer]] = {
    "XOAUTH2": XOAuth2,
    "OAUTHBEARER": OAuthBearer,
}


def mechanism_for(name: str, user: str, secret: str) -> Mechanism:
    name = name.upper()
    if name in PASSWORD_MECHANISMS:
        return PASSWORD_MECHANISMS[name](user, secret)
    if name in TOKEN_MECHANISMS:
        return TOKEN_MECHANISMS[name](user, secret)
    raise LocalProtocolError(f"SASL mechanism {name} is not supported")
