"""Async POP3 client: the sans-IO core (protocol/) driven over net/.

    async with Pop3Client("pop.example.com", security="ssl") as client:  # or .from_endpoint(endpoint)
        await client.login("alice", password)
        count, size = await client.stat()
        async for chunk in client.retr(1):
            ...

Security rules enforced here, not left to callers:
- certificates are verified by default (system trust plus ``ca_file``);
- a password is never sent on an unencrypted connection unless
  ``allow_plaintext=True`` (`PolicyError("plaintext-refused")`);
- ``security="starttls"`` fails with `PolicyError("starttls-unavailable")`
  when the server does not offer STLS -- it never silently stays in clear text;
- one login attempt per `login` call: no mechanism fallback that would spend
  a second password attempt (accounts lock after a few).
"""

from __future__ import annotations

import base64
import builtins
import dataclasses
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Protocol

# DEFAULT_PORTS and Security lived here before endpoint.py; re-exported so old imports work.
from pop3doctor.endpoint import DEFAULT_PORTS as DEFAULT_PORTS
from pop3doctor.endpoint import Endpoint, default_port
from pop3doctor.endpoint import Security as Security
from pop3doctor.errors import AuthError, PolicyError, ServerError
from pop3doctor.net.certs import shared_tls_context
from pop3doctor.net.connection import Connection, open_connection, unverified_certificate
from pop3doctor.net.errors import CertificateProblem, ConnectionClosed
from pop3doctor.net.timeouts import Deadline, Timeouts
from pop3doctor.protocol import commands as cmd
from pop3doctor.protocol import events as ev
from pop3doctor.protocol.capabilities import Capabilities, LineSplitter, parse_stat_text
from pop3doctor.protocol.codes import parse_status_line
from pop3doctor.protocol.commands import Command
from pop3doctor.protocol.connection import ClientConnection
from pop3doctor.protocol.errors import LocalProtocolError, MessageLargerThanListed, ProtocolError
from pop3doctor.protocol.events import Greeting
from pop3doctor.protocol.limits import MAX_COMMAND_LINE, MAX_LISTING
from pop3doctor.protocol.listings import ListingParser, SizeListing, UidListing
from pop3doctor.protocol.sasl import PASSWORD_MECHANISMS, Mechanism, apop_digest, mechanism_for
from pop3doctor.transcript import REDACTED, Transcript

#: How much we read per socket read.  Large reads keep the per-chunk Python
#: overhead small during pipelined retrieval; memory stays bounded by it.
READ_SIZE = 256 * 1024

#: Listings are bounded by the sans-IO core (`protocol.limits.BODY_LIMITS`); kept for old imports.
MAX_LISTING_BYTES = MAX_LISTING

#: A RETR body may exceed its LIST size by this much before it is cut off:
#: LIST's octets are exact by RFC 1939, but some servers list a size before
#: their own CRLF conversion or header additions (Dovecot's virtual size,
#: a "Received:" added on delivery), so the slack is generous.
RETR_SLACK = 1024 * 1024


def retr_limit(listed: int) -> int:
    """Octets a message LIST called ``listed`` may have before RETR is aborted: max(2n, n + 1 MiB)."""
    return max(2 * listed, listed + RETR_SLACK)

#: RETR commands kept in flight when the server offers PIPELINING.  Enough to
#: hide a round trip behind ~10 KB messages; small enough that an -ERR in the
#: middle costs little.
DEFAULT_WINDOW = 32


class MessageSink(Protocol):
    """Where `retrieve_many` writes one message."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """The whole message has arrived."""

    def abort(self) -> None:
        """The message did not arrive completely (error or connection loss)."""


class Pop3Client:
    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: Security | str = Security.SSL,
        timeouts: Timeouts | None = None,
        ca_file: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        allow_plaintext: bool = False,
        nameservers: list[str] | None = None,
        transcript: Transcript | None = None,
    ) -> None:
        self.host = host
        self.security = Security(security)
        self.port = default_port(self.security, port)
        self.timeouts = timeouts or Timeouts()
        self.allow_plaintext = allow_plaintext
        self.server_hostname = server_hostname or host
        self.nameservers = nameservers
        self.transcript = transcript if transcript is not None else Transcript()
        self._tls_context = tls_context
        self._ca_file = ca_file
        self._conn: Connection | None = None
        self._proto = ClientConnection()
        self.greeting: Greeting | None = None
        self.capabilities = Capabilities.unknown()
        #: Capabilities announced before login (they often differ from after).
        self.capabilities_before_login = Capabilities.unknown()
        self.logged_in = False
        #: The deadline of the answer being read (see `_next_event`); None between answers.
        self._deadline: Deadline | None = None

    @classmethod
    def from_endpoint(
        cls,
        endpoint: Endpoint,
        *,
        timeouts: Timeouts | None = None,
        nameservers: list[str] | None = None,
        transcript: Transcript | None = None,
        tls_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> Pop3Client:
        """A client for ``endpoint``: its host, port, security, CA file and plaintext permission.

        The user name and login method stay with the caller (`login` takes them):
        a client may be opened only to probe, without ever logging in.
        """
        return cls(
            endpoint.host,
            endpoint.port,
            security=endpoint.security,
            timeouts=timeouts,
            ca_file=endpoint.ca_file,
            tls_context=tls_context,
            server_hostname=server_hostname,
            allow_plaintext=endpoint.allow_plaintext,
            nameservers=nameservers,
            transcript=transcript,
        )

    # ---- connection ----------------------------------------------------------------

    @property
    def tls_context(self) -> ssl.SSLContext:
        if self._tls_context is None:
            # Shared (never changed here): a context per client reloaded the system store each time.
            self._tls_context = shared_tls_context(self._ca_file)
        return self._tls_context

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("not connected")
        return self._conn

    @property
    def encrypted(self) -> bool:
        return self._conn is not None and self._conn.tls is not None

    async def __aenter__(self) -> Pop3Client:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            await self.quit()
        await self.aclose()

    async def connect(self) -> None:
        """Connect, read the greeting, read CAPA, and upgrade with STLS when asked."""
        await self.open()
        await self.read_greeting()
        await self.capa()
        if self.security is Security.STARTTLS:
            await self.starttls()

    async def open(self) -> Connection:
        """TCP connect (and the TLS handshake for implicit TLS).  Step 1 of `connect`."""
        implicit = self.security is Security.SSL
        self._conn = await open_connection(
            self.host,
            self.port,
            timeouts=self.timeouts,
            tls=self.tls_context if implicit else None,
            server_hostname=self.server_hostname,
            nameservers=self.nameservers,
        )
        self.transcript.note(f"connected to {self._conn.peer[0]} port {self.port}" + (" (TLS)" if implicit else ""))
        return self._conn

    async def read_greeting(self) -> Greeting:
        """Step 2 of `connect`: the server's first line (`ServerError` for ``-ERR``)."""
        event = await self._next_event("greeting")
        if not isinstance(event, Greeting):
            raise ProtocolError(f"expected a greeting, got {event!r}")
        self.transcript.server(event.raw.decode("utf-8", "replace"))
        self.greeting = event
        if not event.status.ok:
            raise ServerError("greeting", None, event.status)
        return event

    async def starttls(self) -> None:
        if self.capabilities.known and not self.capabilities.stls:
            raise PolicyError("starttls-unavailable", "the server does not offer STLS")
        response = await self._single(cmd.simple("STLS"))
        if not response.ok:
            raise PolicyError("starttls-unavailable", str(response.status))
        try:
            await self.connection.start_tls(
                self.tls_context, server_hostname=self.server_hostname, timeout=self.timeouts.tls
            )
        except CertificateProblem as problem:
            if problem.cert is None:
                # The diagnosis needs the certificate's facts even though it failed
                # verification: fetch it once more over a fresh, unverified STLS.
                problem.cert = await unverified_certificate(
                    self._plain_before_tls, server_hostname=self.server_hostname, timeout=self.timeouts.tls
                )
            raise
        self._proto.tls_started()
        self.transcript.note("TLS started (STLS)")
        await self.capa()

    async def _plain_before_tls(self) -> Connection:
        conn = await open_connection(self.host, self.port, timeouts=self.timeouts, nameservers=self.nameservers)
        proto = ClientConnection()
        try:
            await _expect(conn, proto, None, self.timeouts.greeting)
            conn.write(proto.send(cmd.simple("STLS")))
            await _expect(conn, proto, "STLS", self.timeouts.command)
        except BaseException:
            await conn.aclose()
            raise
        return conn

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.aclose()

    # ---- reading events ------------------------------------------------------------

    async def _next_event(self, phase: str = "command") -> ev.Event:
        """The next event; every answer (greeting, status line and body) has its own `Deadline`.

        The deadline starts when we begin waiting for an answer and ends with
        it, so a server dripping its answer a byte at a time is cut off soon
        after the phase's timeout, while a stalled one ends at the per-read
        timeout as before.  Pipelined answers each get their own.
        """
        timeout = self.timeouts.greeting if phase == "greeting" else self.timeouts.command
        while True:
            event = self._proto.next_event()
            if not isinstance(event, ev._NeedData):
                if not isinstance(event, ev.Data) and not (isinstance(event, ev.Response) and self._proto.in_body):
                    self._deadline = None  # this answer is complete; the next one starts afresh
                return self._redacted(event)
            if self._deadline is None:
                self._deadline = Deadline(timeout)
            try:
                data = await self.connection.read(READ_SIZE, timeout=timeout, phase=phase, deadline=self._deadline)
            except ConnectionClosed:
                data = b""
            self._proto.receive_data(data)

    def _redacted(self, event: ev.Event) -> ev.Event:
        """``event`` with any secret this session sent hidden in the server's text (an echo)."""
        if not self.transcript.has_secrets or isinstance(event, ev.Data | ev.EndOfData | ev.Closed):
            return event  # message data stays exactly as the server sent it
        raw = self.transcript.redact_bytes(event.raw)
        if raw == event.raw:
            return event
        if isinstance(event, ev.Continuation):  # the challenge itself goes only to the mechanism
            return dataclasses.replace(event, raw=raw)
        status = parse_status_line(raw) or dataclasses.replace(event.status, text=REDACTED)
        return dataclasses.replace(event, raw=raw, status=status)

    async def _response(self, command: Command, *, log: bool = True) -> ev.Response:
        event = await self._next_event()
        if isinstance(event, ev.Response) and event.command is command:
            if log:
                self.transcript.server(event.raw.decode("utf-8", "replace"))
            return event
        if isinstance(event, ev.ServerNotice):
            if log:
                self.transcript.server(event.raw.decode("utf-8", "replace"))
            raise ServerError(command.name.lower(), command.redacted(), event.status)
        raise ProtocolError(f"unexpected {type(event).__name__} while waiting for {command.name}")

    def _send(self, command: Command) -> None:
        data = self._proto.send(command)
        self.transcript.client(command.redacted())
        self.connection.write(data)

    async def _single(self, command: Command) -> ev.Response:
        self._send(command)
        await self.connection.drain(timeout=self.timeouts.command)
        return await self._response(command)

    async def _checked(self, command: Command) -> ev.Response:
        response = await self._single(command)
        if not response.ok:
            raise ServerError(command.name.lower(), command.redacted(), response.status)
        return response

    async def _body(self, command: Command) -> AsyncIterator[bytes]:
        while True:
            event = await self._next_event()
            if isinstance(event, ev.Data):
                yield event.data
            elif isinstance(event, ev.EndOfData):
                return
            else:
                raise ProtocolError(f"unexpected {type(event).__name__} inside {command.name} data")

    async def _listing(self, command: Command) -> tuple[ev.Response, list[bytes] | None]:
        """A multi-line command's response and lines (None when the server said -ERR).

        For short listings (CAPA, AUTH); the core caps their size.  LIST and
        UIDL go through `_compact_listing`.
        """
        response = await self._single(command)
        if not response.ok:
            return response, None
        splitter = LineSplitter()
        lines: list[bytes] = []
        async for chunk in self._body(command):
            lines.extend(splitter.feed(chunk))
        lines.extend(splitter.close())
        return response, lines

    async def _compact_listing(self, command: Command) -> tuple[ev.Response, SizeListing | UidListing | None]:
        """LIST or UIDL, parsed as it streams in (`protocol.listings`: near its wire size in memory)."""
        response = await self._single(command)
        if not response.ok:
            return response, None
        parser = ListingParser.for_command(command.name)
        async for chunk in self._body(command):
            parser.feed(chunk)
        return response, parser.close()

    # ---- commands ------------------------------------------------------------------

    async def capa(self) -> Capabilities:
        _, lines = await self._listing(cmd.simple("CAPA"))
        caps = Capabilities.parse(lines) if lines is not None else Capabilities.unknown()
        if lines is not None:
            self.transcript.server("(CAPA) " + " | ".join(x.decode("utf-8", "replace") for x in lines))
        self.capabilities = caps
        if not self.logged_in:
            self.capabilities_before_login = caps
        self._proto.pipelining = caps.pipelining
        return caps

    def choose_mechanism(self) -> str:
        """The login method `login` will use with ``--auth auto``: AUTH PLAIN, LOGIN or USER.

        "auto" is what mail programs call "normal password": USER/PASS, or
        AUTH PLAIN/LOGIN when offered.  CRAM-MD5 and APOP ("encrypted
        password") are used only when asked for: they need the password stored
        reversibly, and servers that announce them often hold no such secret
        for the user (a Cyrus or Dovecot greeting carries an APOP timestamp
        either way), so a refusal would read as a wrong password when the
        user's normal password is right (issue 13 item 1).
        """
        offered = set(self.capabilities.sasl)
        user_ok = "USER" in self.capabilities or not self.capabilities.known
        for name in ("PLAIN", "LOGIN", "USER"):
            if name in PASSWORD_MECHANISMS and name in offered:
                return name
            if name == "USER" and user_ok:
                return name
        others = sorted(offered | ({"APOP"} if self.greeting and self.greeting.apop_timestamp else set()))
        shown = " ".join(others) or "none"
        raise PolicyError("mechanism-unavailable", f"no normal-password login offered; offered: {shown}")

    async def login(self, user: str, password: str, *, mechanism: str | None = None) -> None:
        """Log in once.  Raises `AuthError` on refusal, `PolicyError` when we will not try."""
        if not self.encrypted and not self.allow_plaintext:
            raise PolicyError("plaintext-refused", "the connection is not encrypted")
        name = (mechanism or self.choose_mechanism()).upper()
        self.transcript.add_secret(password)
        if name in PASSWORD_MECHANISMS and self.capabilities.known and name not in self.capabilities.sasl:
            # Asking anyway would spend a login attempt on a certain -ERR.
            raise PolicyError("mechanism-unavailable", f"{name} is not offered")
        if "UTF8" in self.capabilities and not user.isascii():
            await self._checked(cmd.simple("UTF8"))  # RFC 6856: UTF-8 user names
        if name == "USER":
            response = await self._single(cmd.user(user))
            if not response.ok:
                raise AuthError("user", f"USER {user}", response.status)
            response = await self._single(cmd.pass_(password))
            if not response.ok:
                raise AuthError("login", "PASS ********", response.status)
        elif name == "APOP":
            if self.greeting is None or self.greeting.apop_timestamp is None:
                raise PolicyError("mechanism-unavailable", "no APOP timestamp in the greeting")
            command = cmd.apop(user, apop_digest(self.greeting.apop_timestamp, password))
            response = await self._single(command)
            if not response.ok:
                raise AuthError("login", command.redacted(), response.status)
        else:
            await self._sasl(mechanism_for(name, user, password))
        self.logged_in = True
        self.transcript.note(f"logged in ({name})")
        await self.capa()  # RFC 2449 s5: capabilities may differ after login

    async def login_oauth2(self, user: str, token: str, *, mechanism: str | None = None) -> None:
        """Log in with an OAuth2 bearer token (XOAUTH2 or OAUTHBEARER, whichever is offered)."""
        if not self.encrypted and not self.allow_plaintext:
            raise PolicyError("plaintext-refused", "the connection is not encrypted")
        offered = self.capabilities.sasl
        name = mechanism or next((m for m in ("OAUTHBEARER", "XOAUTH2") if m in offered), "XOAUTH2")
        self.transcript.add_secret(token)
        await self._sasl(mechanism_for(name, user, token))
        self.logged_in = True
        await self.capa()

    async def _sasl(self, mech: Mechanism) -> None:
        initial = mech.initial_response()
        command: Command
        if initial is not None and mech.sends_secret:
            self.transcript.add_secret(initial)  # PLAIN's "\0user\0pass", a token's blob: their base64
        if initial is not None:
            encoded = base64.b64encode(initial).decode("ascii") or "="
            if len(f"AUTH {mech.name} {encoded}\r\n") > MAX_COMMAND_LINE:
                # RFC 5034 s4: too long for the command line: send the mechanism
                # alone and the response after the server's empty challenge.
                command = cmd.auth(mech.name)
            else:
                command = cmd.auth(mech.name, encoded)
        else:
            command = cmd.auth(mech.name)
        self._send(command)
        await self.connection.drain(timeout=self.timeouts.command)
        while True:
            event = await self._next_event()
            if isinstance(event, ev.Continuation):
                self.transcript.server(event.raw.decode("utf-8", "replace"))
                answer = mech.respond(event.challenge)
                self.transcript.client("(SASL response hidden)" if answer else "(empty or cancel)")
                self.connection.write(self._proto.send_sasl_response(answer))
                await self.connection.drain(timeout=self.timeouts.command)
                continue
            if isinstance(event, ev.Response) and event.command is command:
                self.transcript.server(event.raw.decode("utf-8", "replace"))
                if event.ok:
                    return
                error = AuthError("login", command.redacted(), event.status)
                sasl_error = getattr(mech, "error", None)
                error.sasl_error = None if sasl_error is None else self.transcript.redact_bytes(sasl_error)
                raise error
            raise ProtocolError(f"unexpected {type(event).__name__} during AUTH")

    async def stat(self) -> tuple[int, int]:
        response = await self._checked(cmd.simple("STAT"))
        return parse_stat_text(response.status.text)

    async def list(self) -> SizeListing:
        """Message number -> octets, held compactly (a read-only mapping)."""
        response, listing = await self._compact_listing(cmd.simple("LIST"))
        if listing is None:
            raise ServerError("list", "LIST", response.status)
        assert isinstance(listing, SizeListing)
        return listing

    async def uidl(self) -> UidListing | None:
        """Unique ids per message number (a read-only mapping), or None when the server has no UIDL."""
        _, listing = await self._compact_listing(cmd.simple("UIDL"))
        if listing is None:
            return None
        assert isinstance(listing, UidListing)
        return listing

    async def top(self, msgnum: int, lines: int = 0) -> bytes:
        """The header and ``lines`` body lines; an answer over `limits.MAX_TOP` raises `ResponseTooLong`."""
        command = cmd.simple("TOP", msgnum, lines)
        response = await self._single(command)
        if not response.ok:
            raise ServerError("top", command.redacted(), response.status)
        return b"".join([chunk async for chunk in self._body(command)])

    async def retr(self, msgnum: int) -> AsyncIterator[bytes]:
        """Stream one message (dot-unstuffed, CRLF as sent).  Consume it fully."""
        command = cmd.simple("RETR", msgnum)
        response = await self._single(command)
        if not response.ok:
            raise ServerError("retr", command.redacted(), response.status)
        async for chunk in self._body(command):
            yield chunk

    async def retr_bytes(self, msgnum: int) -> bytes:
        return b"".join([chunk async for chunk in self.retr(msgnum)])

    async def retrieve_many(
        self,
        msgnums: Sequence[int],
        open_sink: Callable[[int], MessageSink],
        *,
        window: int | None = None,
        on_error: Callable[[int, ServerError], None] | None = None,
        listed: Mapping[int, int] | None = None,
    ) -> None:
        """RETR each message into the sink ``open_sink(msgnum)`` returns.

        With PIPELINING, up to ``window`` RETR commands are in flight, written
        in one burst; without it, one at a time.  A sink is closed when its
        message is complete and aborted when it is not.  ``-ERR`` for one
        message goes to ``on_error`` (default: raise).  ``listed`` are LIST's
        sizes: a body beyond `retr_limit` of its size is aborted with
        `MessageLargerThanListed` (the connection is then out of step: close it).
        """
        if window is None:
            window = DEFAULT_WINDOW if self._proto.pipelining else 1

        async def deliver(msgnum: int, command: Command, response: ev.Response) -> None:
            if not response.ok:
                error = ServerError("retr", command.redacted(), response.status)
                if on_error is None:
                    raise error
                on_error(msgnum, error)
                return
            size = None if listed is None else listed.get(msgnum)
            limit = None if size is None else retr_limit(size)
            received = 0
            sink = open_sink(msgnum)
            try:
                while True:
                    event = await self._next_event()
                    if isinstance(event, ev.Data):
                        received += len(event.data)
                        if limit is not None and received > limit:
                            self._proto.abandon()  # the rest is never read
                            raise MessageLargerThanListed(
                                f"message {msgnum}: over {limit} octets, LIST said {size}",
                                msgnum=msgnum,
                                listed=size or 0,
                                limit=limit,
                            )
                        sink.write(event.data)
                    elif isinstance(event, ev.EndOfData):
                        break
                    else:
                        raise ProtocolError(f"unexpected {type(event).__name__} inside RETR data")
            except BaseException:
                sink.abort()
                raise
            sink.close()

        # Refill the window in bursts once half of it has drained: one write
        # and one drain per burst instead of one per message.  RETR commands
        # and their +OK lines stay out of the transcript (DELE's go in).
        await self._pipelined("RETR", msgnums, deliver, window=window, refill_at=window // 2, log=False)

    async def dele(self, msgnum: int) -> None:
        await self._checked(cmd.simple("DELE", msgnum))

    async def dele_many(self, msgnums: Iterable[int]) -> builtins.list[int]:
        """Mark messages deleted, pipelined when offered; returns the numbers the server accepted."""
        accepted: builtins.list[int] = []

        async def note(msgnum: int, command: Command, response: ev.Response) -> None:
            if response.ok:
                accepted.append(msgnum)

        window = DEFAULT_WINDOW * 4
        await self._pipelined("DELE", msgnums, note, window=window, refill_at=window, log=True)
        return accepted

    async def _pipelined(
        self,
        name: str,
        msgnums: Iterable[int],
        each: Callable[[int, Command, ev.Response], Awaitable[None]],
        *,
        window: int,
        refill_at: int,
        log: bool,
    ) -> None:
        """Send ``name N`` for every number, at most ``window`` in flight, and hand
        each response to ``each`` in order (which reads the body, if there is one).

        New commands go out in one burst (one write, one drain) whenever at
        most ``refill_at`` are still in flight; `ClientConnection.can_send`
        keeps it to one at a time without PIPELINING.  ``log`` puts the
        commands and responses in the transcript.
        """
        todo = deque(msgnums)
        inflight: deque[tuple[int, Command]] = deque()
        while todo or inflight:
            burst: builtins.list[bytes] = []
            while todo and len(inflight) < window and (burst or len(inflight) <= refill_at):
                command = cmd.simple(name, todo[0])
                if not self._proto.can_send(command):
                    break
                burst.append(self._proto.send(command))
                if log:
                    self.transcript.client(command.redacted())
                inflight.append((todo.popleft(), command))
            if burst:
                self.connection.write(b"".join(burst))
                await self.connection.drain(timeout=self.timeouts.command)
            msgnum, command = inflight.popleft()
            await each(msgnum, command, await self._response(command, log=log))

    async def noop(self) -> None:
        await self._checked(cmd.simple("NOOP"))

    async def rset(self) -> None:
        await self._checked(cmd.simple("RSET"))

    async def quit(self) -> None:
        """QUIT: the server commits deletions (RFC 1939 UPDATE state).  Raises if it refuses."""
        if self._conn is None or self._proto.state.value == "closed":
            return
        command = cmd.simple("QUIT")
        response = await self._single(command)
        if not response.ok:
            raise ServerError("quit", "QUIT", response.status)
        try:
            event = await self._next_event()
            if not isinstance(event, ev.Closed):
                raise ProtocolError("data after QUIT")
        except LocalProtocolError:
            raise  # our own bug: never swallowed with the peer's misbehaviour
        except (ProtocolError, OSError):
            pass


async def probe_capabilities(client: Pop3Client) -> Capabilities | Exception:
    """Connect ``client`` (greeting, CAPA, STLS when its security says so), QUIT, close.

    Never logs in and never raises for a failure of the server or the network:
    the exception is returned as the evidence.  Used by the alternative-settings
    probes of the diagnosis and by discovery's guessing.
    """
    try:
        await client.connect()
    except Exception as exc:  # every failure is evidence here, never a crash
        return exc
    else:
        caps = client.capabilities
        try:
            await client.quit()
        except Exception:  # noqa: S110 -- the probe already succeeded; QUIT is a courtesy
            pass
        return caps
    finally:
        await client.aclose()


async def _expect(conn: Connection, proto: ClientConnection, name: str | None, timeout: float) -> None:
    """Read until the greeting (name None) or the +OK to ``name``; raise on anything else."""
    while True:
        event = proto.next_event()
        if event is ev.NEED_DATA:
            proto.receive_data(await conn.read(4096, timeout=timeout, phase="command"))
            continue
        if isinstance(event, Greeting | ev.Response) and event.status.ok:
            return
        raise ProtocolError(f"unexpected answer while preparing STLS: {event!r}")
