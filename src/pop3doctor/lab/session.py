"""One client connection to the lab: the POP3 server side of RFC 1939.

States follow RFC 1939: AUTHORIZATION (USER/PASS, APOP, AUTH, CAPA, STLS),
TRANSACTION (STAT, LIST, RETR, DELE, NOOP, RSET, TOP, UIDL, CAPA) and UPDATE
(at QUIT only: marked messages are removed; a connection that ends any other
way removes nothing).  Commands are answered strictly in order, so pipelined
commands (RFC 2449 PIPELINING) work without special handling.

Protocol choices the lab makes explicitly:

- CAPA always lists TOP, UIDL, RESP-CODES, AUTH-RESP-CODE, PIPELINING,
  ``EXPIRE NEVER`` (the lab never deletes on its own) and
  ``IMPLEMENTATION pop3doctor-lab``; USER, SASL and STLS as the scenario and
  the TLS state allow.
- One session at a time may hold the maildrop (RFC 1939 section 8, exclusive
  lock); a second login gets ``-ERR [IN-USE]``.
- "AUTH" with no argument lists the mechanisms (a de-facto extension many
  clients probe with); RFC 5034 initial responses and "=" are accepted; "*"
  cancels.
- Hostile clients: lines longer than ``max_line`` end the connection, commands
  longer than RFC 2449's 255 octets and unknown commands get ``-ERR``, and
  after ``max_bad_commands`` of those, or ``idle_timeout`` seconds of silence,
  the lab says why and hangs up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import ssl
from typing import Protocol

from pop3doctor.lab.faults import BUSY_REPLY
from pop3doctor.lab.mailbox import LabMessage, Maildrop, stuff, top_blocks
from pop3doctor.lab.options import LabOptions
from pop3doctor.lab.scenarios import CYRUS_IN_USE, DOVECOT_PLAINTEXT_DISALLOWED, Scenario
from pop3doctor.net.timeouts import within

#: RFC 2449 section 4: a command line is at most 255 octets including CRLF.
MAX_COMMAND = 255 - 2

_PLAINTEXT_MECHS = frozenset({"PLAIN", "LOGIN"})
_OAUTH_MECHS = frozenset({"XOAUTH2", "OAUTHBEARER"})

# RFC 4616 PLAIN and the de-facto LOGIN mechanism's prompts, base64 of
# "Username:" and "Password:" as every LOGIN server sends them.
_LOGIN_USER_PROMPT = "+ VXNlcm5hbWU6"
_LOGIN_PASS_PROMPT = "+ UGFzc3dvcmQ6"  # noqa: S105 - the prompt, not a secret

#: Google's XOAUTH2 failure challenge (developers.google.com "OAuth 2.0
#: Mechanism"): a base64 JSON error, after which the client sends an empty line.
_OAUTH_ERROR = base64.b64encode(
    json.dumps(
        {"status": "401", "schemes": "bearer", "scope": "https://mail.example.jp/pop"}
    ).encode()
).decode()


def _printable(text: str, limit: int = 64) -> str:
    """Client text echoed in a reply: printable ASCII only, bounded."""
    return "".join(c if 0x20 < ord(c) < 0x7F else "?" for c in text[:limit])


class LabHost(Protocol):
    """What a session needs of its server (`LabServer` is one).

    Narrow on purpose, as `faults.Conn` is for the fault hooks: this module
    then does not import server.py, which imports it.
    """

    @property
    def scenario(self) -> Scenario: ...
    @property
    def options(self) -> LabOptions: ...
    @property
    def hostname(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def maildrop(self) -> Maildrop:
        """Shared by every session: its lock and its deletions outlive them."""
    @property
    def active(self) -> int:
        """Connections open now (this one included)."""
    @property
    def logins(self) -> list[str]:
        """Appended to on each successful login ("USER", "AUTH PLAIN", ...)."""
    @property
    def login_attempts(self) -> list[tuple[str, str]]:
        """(method, user) of every credential check, accepted or refused."""
    @property
    def ssl_context(self) -> ssl.SSLContext: ...


class _EndSession(Exception):
    """Raised inside a handler to end the session after what was already sent."""


class Session:
    """Serves one connection; `run` returns when it is over."""

    def __init__(
        self,
        server: LabHost,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        tls: bool,
    ) -> None:
        self.server = server
        self.scenario = server.scenario
        self.reader = reader
        self.writer = writer
        self.tls = tls
        self.state = "AUTHORIZATION"
        self.end_reason: str | None = None
        self.aborted = False
        self._user: str | None = None
        self._messages: list[LabMessage] = []
        self._marked: set[int] = set()
        self._holds_lock = False
        self._bad = 0
        self._timestamp = f"<{os.getpid()}.{secrets.token_hex(8)}@{server.hostname}>"

    # --- Conn (what fault hooks use) --------------------------------------

    @property
    def options(self) -> LabOptions:
        return self.server.options

    async def send(self, data: bytes) -> None:
        if self.aborted:
            return
        self.writer.write(data)
        await self.writer.drain()

    async def send_line(self, line: str) -> None:
        await self.send(line.encode("utf-8") + b"\r\n")

    async def read_line(self) -> bytes | None:
        try:
            line = await within(
                self.reader.readuntil(b"\n"), self.options.idle_timeout
            )
        except TimeoutError:
            self.end_reason = "idle"
            return None
        except asyncio.LimitOverrunError:
            self.end_reason = "overlong"
            return None
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            self.end_reason = "eof"
            return None
        return line.rstrip(b"\r\n")

    def abort(self) -> None:
        self.aborted = True
        self.writer.transport.abort()

    def message(self, arg: str) -> LabMessage | None:
        if not arg.isdigit() or len(arg) > 9:
            return None
        number = int(arg)
        if not 1 <= number <= len(self._messages) or number - 1 in self._marked:
            return None
        return self._messages[number - 1]

    # --- life cycle --------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._run()
        except (_EndSession, ConnectionError, ssl.SSLError, TimeoutError):
            pass
        finally:
            self._release()
            await self._close()

    async def _close(self) -> None:
        if self.aborted:
            return
        self.writer.close()
        try:
            # A TLS close waits for the peer's close_notify; don't wait forever.
            await within(self.writer.wait_closed(), 5)
        except (TimeoutError, ConnectionError, ssl.SSLError):
            self.writer.transport.abort()

    def _release(self) -> None:
        if self._holds_lock:
            self.server.maildrop.locked = False
            self._holds_lock = False

    async def _run(self) -> None:
        if self.server.active > self.options.max_connections:
            await self.send_line(BUSY_REPLY)
            return
        hook = self.scenario.on_connect
        if hook is not None and not await hook(self):
            return
        greeting = f"+OK {self.scenario.greeting}"
        if self._apop_offered():
            greeting += f" {self._timestamp}"
        await self.send_line(greeting)
        while not self.aborted:
            line = await self.read_line()
            if line is None:
                if self.end_reason == "idle":
                    # Dovecot's wording for its autologout.
                    await self.send_line("-ERR Disconnected for inactivity.")
                elif self.end_reason == "overlong":
                    await self.send_line("-ERR Input line too long.")
                return
            if not await self._dispatch(line):
                return

    # --- dispatch ----------------------------------------------------------

    async def _bad_command(self, reply: str) -> bool:
        self._bad += 1
        if self._bad >= self.options.max_bad_commands:
            await self.send_line("-ERR Too many bad commands.")
            return False
        await self.send_line(reply)
        return True

    async def _dispatch(self, line: bytes) -> bool:
        """Answer one command; ``False`` ends the session."""
        if len(line) > MAX_COMMAND:
            return await self._bad_command("-ERR Command line too long.")
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            return await self._bad_command("-ERR Invalid characters in command.")
        verb, _, rest = text.partition(" ")
        verb = verb.upper()
        args = rest.split()
        if not verb.isalpha() or len(verb) > 8:
            return await self._bad_command("-ERR Unknown command.")
        if verb == "QUIT":
            await self._quit()
            return False
        if verb == "CAPA":
            await self._capa()
            return True
        if self.state == "AUTHORIZATION":
            return await self._authorization(verb, args, rest)
        return await self._transaction(verb, args)

    # --- AUTHORIZATION -----------------------------------------------------

    def _apop_offered(self) -> bool:
        sc = self.scenario
        return sc.apop and sc.password_login and not (sc.plaintext_needs_tls and not self.tls)

    def _plaintext_blocked(self) -> bool:
        return self.scenario.plaintext_needs_tls and not self.tls

    def _mechanisms(self) -> list[str]:
        mechs = list(self.scenario.sasl)
        if self._plaintext_blocked():
            mechs = [m for m in mechs if m not in _PLAINTEXT_MECHS]
        return mechs

    def _stls_offered(self) -> bool:
        return self.scenario.stls and not self.tls

    def _fill(self, template: str) -> str:
        delay = self.options.login_delay
        return template.format(
            user=_printable(self._user or self.server.user),
            login_delay=delay,
            minutes=max(1, delay // 60),
        )

    async def _capa(self) -> None:
        lines = ["+OK Capability list follows", "TOP", "UIDL", "RESP-CODES",
                 "AUTH-RESP-CODE", "PIPELINING"]
        if self.scenario.password_login and not self._plaintext_blocked():
            lines.append("USER")
        mechs = self._mechanisms()
        if mechs:
            lines.append("SASL " + " ".join(mechs))
        if self._stls_offered():
            lines.append("STLS")
        lines.append("EXPIRE NEVER")
        lines.extend(self._fill(extra) for extra in self.scenario.capa_extra)
        lines.append("IMPLEMENTATION pop3doctor-lab")
        lines.append(".")
        await self.send("".join(f"{line}\r\n" for line in lines).encode())

    async def _authorization(self, verb: str, args: list[str], rest: str) -> bool:
        if verb == "USER":
            if len(args) != 1:
                return await self._bad_command("-ERR Invalid arguments.")
            if self._plaintext_blocked():
                await self.send_line(DOVECOT_PLAINTEXT_DISALLOWED)
                return True
            self._user = args[0]
            if self.scenario.user_reply is not None:
                await self.send_line(self._fill(self.scenario.user_reply))
                self._user = None
                return True
            await self.send_line("+OK")
            return True
        if verb == "PASS":
            if self._plaintext_blocked():
                # Refused unread, but the password did cross the wire: an attempt.
                self.server.login_attempts.append(("USER", self._user or ""))
                await self.send_line(DOVECOT_PLAINTEXT_DISALLOWED)
                return True
            if self._user is None:
                return await self._bad_command("-ERR No username given.")
            user, self._user = self._user, None
            # RFC 1939 section 7: the password may contain spaces.
            await self._login("USER", user, self._password_ok(user, rest))
            return True
        if verb == "APOP":
            if not self._apop_offered():
                return await self._bad_command("-ERR APOP is not available.")
            if len(args) != 2:
                return await self._bad_command("-ERR Invalid arguments.")
            expected = hashlib.md5(  # noqa: S324 - RFC 1939 APOP is defined with MD5
                (self._timestamp + self.server.password).encode()
            ).hexdigest()
            ok = (
                self.scenario.apop_secret
                and args[0] == self.server.user
                and hmac.compare_digest(args[1].lower().encode(), expected.encode())
            )
            await self._login("APOP", args[0], ok)
            return True
        if verb == "AUTH":
            return await self._auth(args)
        if verb == "STLS":
            return await self._stls()
        return await self._bad_command("-ERR Unknown command.")

    def _password_ok(self, user: str, password: str) -> bool:
        return user == self.server.user and hmac.compare_digest(
            password.encode(), self.server.password.encode()
        )

    async def _login(self, method: str, user: str, credentials_ok: bool) -> None:
        # Counted before any verdict: a refused password is an attempt too, and
        # an account locks after a few of those (issue 19: at most one per run).
        self.server.login_attempts.append((method, user))
        sc = self.scenario
        if not sc.password_login:
            await self.send_line(self._fill(sc.login_reply or sc.auth_failure))
            return
        if not credentials_ok:
            await self.send_line(sc.auth_failure)
            return
        if sc.login_reply is not None:
            self._user = user
            await self.send_line(self._fill(sc.login_reply))
            self._user = None
            return
        maildrop = self.server.maildrop
        if maildrop.locked:
            await self.send_line(CYRUS_IN_USE)
            return
        maildrop.locked = True
        self._holds_lock = True
        self._messages = maildrop.live()
        self._marked = set()
        self.state = "TRANSACTION"
        self.server.logins.append(method)
        await self.send_line("+OK Logged in.")

    async def _sasl_line(self, prompt: str) -> str | None:
        """Send a continuation, return the client's answer (``None``: cancelled)."""
        await self.send_line(prompt)
        line = await self.read_line()
        if line is None:
            raise _EndSession
        answer = line.decode("ascii", "replace").strip()
        return None if answer == "*" else answer

    @staticmethod
    def _b64(text: str) -> bytes | None:
        if text == "=":  # RFC 5034 section 4: an empty initial response
            return b""
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None

    async def _auth(self, args: list[str]) -> bool:
        mechs = self._mechanisms()
        if not args:
            body = "".join(f"{m}\r\n" for m in mechs)
            await self.send(f"+OK\r\n{body}.\r\n".encode())
            return True
        mech = args[0].upper()
        if self._plaintext_blocked() and mech in _PLAINTEXT_MECHS:
            await self.send_line(DOVECOT_PLAINTEXT_DISALLOWED)
            return True
        if mech not in mechs or len(args) > 2:
            return await self._bad_command("-ERR Unsupported authentication mechanism.")
        initial = args[1] if len(args) == 2 else None
        if mech in _OAUTH_MECHS:
            return await self._auth_oauth(initial)
        if mech == "PLAIN":
            await self._auth_plain(initial)
        elif mech == "LOGIN":
            await self._auth_login(initial)
        else:
            await self._auth_cram_md5()
        return True

    async def _auth_plain(self, initial: str | None) -> None:
        """RFC 4616: one response "authzid NUL user NUL password" (authzid empty or the user)."""
        answer = initial if initial is not None else await self._sasl_line("+ ")
        if answer is None:
            await self.send_line("-ERR Authentication aborted.")
            return
        decoded = self._b64(answer)
        parts = decoded.split(b"\0") if decoded is not None else []
        if len(parts) != 3 or parts[0] not in (b"", parts[1]):
            await self.send_line("-ERR [AUTH] Invalid base64 data or PLAIN response.")
            return
        user = parts[1].decode("utf-8", "replace")
        ok = self._password_ok(user, parts[2].decode("utf-8", "replace"))
        await self._login("AUTH PLAIN", user, ok)

    async def _auth_login(self, initial: str | None) -> None:
        """The de-facto LOGIN mechanism: user name, then password, each after its prompt."""
        user_b64 = initial if initial is not None else await self._sasl_line(
            _LOGIN_USER_PROMPT
        )
        if user_b64 is None:
            await self.send_line("-ERR Authentication aborted.")
            return
        pass_b64 = await self._sasl_line(_LOGIN_PASS_PROMPT)
        if pass_b64 is None:
            await self.send_line("-ERR Authentication aborted.")
            return
        user_raw, pass_raw = self._b64(user_b64), self._b64(pass_b64)
        if user_raw is None or pass_raw is None:
            await self.send_line("-ERR [AUTH] Invalid base64 data.")
            return
        user = user_raw.decode("utf-8", "replace")
        ok = self._password_ok(user, pass_raw.decode("utf-8", "replace"))
        await self._login("AUTH LOGIN", user, ok)

    async def _auth_cram_md5(self) -> None:
        """RFC 2195: challenge, then "user hex(HMAC-MD5(password, challenge))"."""
        challenge = f"<{secrets.token_hex(8)}.{os.getpid()}@{self.server.hostname}>"
        answer = await self._sasl_line("+ " + base64.b64encode(challenge.encode()).decode())
        if answer is None:
            await self.send_line("-ERR Authentication aborted.")
            return
        decoded = self._b64(answer)
        user, _, digest = (decoded or b"").decode("utf-8", "replace").rpartition(" ")
        expected = hmac.new(
            self.server.password.encode(), challenge.encode(), hashlib.md5
        ).hexdigest()
        ok = user == self.server.user and hmac.compare_digest(
            digest.lower().encode(), expected.encode()
        )
        await self._login("AUTH CRAM-MD5", user, ok)

    async def _auth_oauth(self, initial: str | None) -> bool:
        """XOAUTH2 / OAUTHBEARER: the lab has no token service, so every token
        fails the way Google's XOAUTH2 fails: an error challenge, then -ERR."""
        if initial is None and await self._sasl_line("+ ") is None:
            await self.send_line("-ERR Authentication aborted.")
            return True
        await self._sasl_line("+ " + _OAUTH_ERROR)
        await self.send_line(self.scenario.auth_failure)
        return True

    async def _stls(self) -> bool:
        if self.tls:
            return await self._bad_command("-ERR TLS is already active.")
        if not self._stls_offered():
            return await self._bad_command("-ERR Unknown command.")
        # Plaintext pipelined after STLS must not be taken as if it came over
        # TLS (the STARTTLS command-injection flaw, CVE-2011-0411): RFC 2595
        # section 4 forbids it, so refuse and hang up.  StreamReader has no
        # public way to ask what it has buffered, hence the private name.
        if len(getattr(self.reader, "_buffer", b"")):
            await self.send_line("-ERR STLS must be the last command in a pipeline.")
            return False
        await self.send_line("+OK Begin TLS negotiation now.")
        try:
            await self.writer.start_tls(
                self.server.ssl_context,
                ssl_handshake_timeout=self.options.tls_handshake_timeout,
            )
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError):
            self.aborted = True
            self.writer.transport.abort()
            return False
        # RFC 2595 section 4: forget what was learnt before TLS.
        self.tls = True
        self._user = None
        return True

    # --- TRANSACTION -------------------------------------------------------

    def _live_numbers(self) -> list[int]:
        return [i for i in range(len(self._messages)) if i not in self._marked]

    async def _no_message(self, arg: str) -> bool:
        return await self._bad_command(f"-ERR There's no message {_printable(arg, 12)}.")

    async def _transaction(self, verb: str, args: list[str]) -> bool:
        hook = self.scenario.on_transaction
        if hook is not None and await hook(self, verb, args):
            return not self.aborted
        if verb == "STAT":
            live = self._live_numbers()
            size = sum(self._messages[i].size for i in live)
            await self.send_line(f"+OK {len(live)} {size}")
        elif verb in ("LIST", "UIDL"):
            return await self._listing(verb, args)
        elif verb == "RETR" and len(args) == 1:
            message = self.message(args[0])
            if message is None:
                return await self._no_message(args[0])
            await self.send_line(f"+OK {message.size} octets")
            for chunk in message.chunks():
                await self.send(stuff(chunk))
            await self.send(b".\r\n")
        elif verb == "TOP" and len(args) == 2:
            message = self.message(args[0])
            if message is None:
                return await self._no_message(args[0])
            if not args[1].isdigit():
                return await self._bad_command("-ERR Invalid number of lines.")
            await self.send_line("+OK")
            for block in top_blocks(message, int(args[1])):
                await self.send(stuff(block))
            await self.send(b".\r\n")
        elif verb == "DELE" and len(args) == 1:
            if self.message(args[0]) is None:
                return await self._no_message(args[0])
            self._marked.add(int(args[0]) - 1)
            await self.send_line("+OK Marked to be deleted.")
        elif verb == "NOOP" and not args:
            await self.send_line("+OK")
        elif verb == "RSET" and not args:
            self._marked.clear()
            await self.send_line("+OK")
        else:
            return await self._bad_command("-ERR Unknown command or wrong arguments.")
        return True

    async def _listing(self, verb: str, args: list[str]) -> bool:
        def field(i: int) -> str:
            m = self._messages[i]
            return str(m.size) if verb == "LIST" else m.uid

        if len(args) > 1:
            return await self._bad_command("-ERR Too many arguments.")
        if args:
            if self.message(args[0]) is None:
                return await self._no_message(args[0])
            await self.send_line(f"+OK {int(args[0])} {field(int(args[0]) - 1)}")
            return True
        live = self._live_numbers()
        head = "+OK"
        if verb == "LIST":
            size = sum(self._messages[i].size for i in live)
            head = f"+OK {len(live)} messages ({size} octets)"
        body = "".join(f"{i + 1} {field(i)}\r\n" for i in live)
        await self.send(f"{head}\r\n{body}.\r\n".encode())
        return True

    async def _quit(self) -> None:
        if self.state == "TRANSACTION":
            # RFC 1939 section 6: the UPDATE state removes marked messages.
            marked = [self._messages[i] for i in sorted(self._marked)]
            self.server.maildrop.commit(marked)
            self._release()
            reply = "+OK Logging out, messages deleted." if marked else "+OK Logging out."
        else:
            reply = "+OK Logging out."
        await self.send_line(reply)

