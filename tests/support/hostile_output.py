"""A small hostile POP3 server on loopback, for output-safety tests (issue 12).

It misbehaves in the ways a user's output must survive:

- ``greeting``: any bytes as the first line (terminal escapes, NULs);
- it echoes every credential it receives back in its ``-ERR`` (USER/PASS,
  AUTH PLAIN, AUTH LOGIN, XOAUTH2/OAUTHBEARER), in clear and as sent (base64),
  and in the SASL error challenge of the token mechanisms;
- ``err``: bytes added to every ``-ERR`` line (terminal escapes, NULs, markup);
- ``login``: USER/PASS (and AUTH PLAIN) succeeds and the maildrop holds one message whose RETR
  and TOP fail with an ``-ERR`` (so ``err`` reaches fetch's per-message detail);
- ``stls``: how STARTTLS fails after its ``+OK``: "close" (the connection is
  closed), "silence" (nothing more is ever sent), "inject" (plaintext lines
  follow the ``+OK`` in the same write, so they arrive in one buffer with it),
  "inject-late" (the same lines after a short pause, so they reach the
  client's TLS layer instead of its POP3 parser).

Plain TCP only: the tests pass ``--security plain --allow-plaintext`` (or
``starttls`` for the STLS cases).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import sys
from pathlib import Path
from types import TracebackType

#: ``login`` mode's maildrop: one message, listed but never readable.
_MAILDROP = {
    "STAT": ("+OK 1 120",),
    "LIST": ("+OK 1 messages", "1 120", "."),
    "UIDL": ("+OK", "1 hostile-uid-1", "."),
}


def _decoded(b64: str) -> str:
    try:
        return base64.b64decode(b64, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return "?"


class HostileServer:
    def __init__(
        self,
        *,
        greeting: bytes = b"+OK hostile ready",
        stls: str | None = None,
        err: bytes = b"",
        login: bool = False,
        capa: tuple[str, ...] = ("USER", "SASL PLAIN LOGIN XOAUTH2 OAUTHBEARER", "UIDL"),
    ) -> None:
        self.greeting = greeting
        self.stls = stls
        self.err = err
        self.login = login
        self.capa = capa + (("STLS",) if stls else ())
        self.host = "127.0.0.1"
        self.port = 0
        self.received: list[bytes] = []
        # Set when the client drops the connection after STLS's +OK.
        self.gone_after_stls = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> HostileServer:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._session(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(line: str | bytes) -> None:
            raw = line.encode() if isinstance(line, str) else line
            if raw.startswith(b"-ERR") and self.err:
                raw += b" " + self.err
            writer.write(raw + b"\r\n")

        send(self.greeting)
        await writer.drain()
        while True:
            raw = await reader.readline()
            if not raw:
                return
            self.received.append(raw)
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "CAPA":
                send("+OK")
                for cap in self.capa:
                    send(cap)
                send(".")
            elif verb == "USER":
                send(f"+OK {arg} is welcome")
            elif verb == "PASS" and self.login:
                send("+OK maildrop locked and ready")
            elif verb == "PASS":
                send(f"-ERR invalid password: {arg}")
            elif verb in ("STAT", "LIST", "UIDL") and self.login:
                for reply in _MAILDROP[verb]:
                    send(reply)
            elif verb in ("RETR", "TOP") and self.login:
                send(f"-ERR message {arg} cannot be read")
            elif verb == "AUTH":
                send(await self._auth(arg, reader, writer))
            elif verb == "STLS" and self.stls:
                await self._stls(writer, reader)
                return
            elif verb == "QUIT":
                send("+OK bye")
                await writer.drain()
                return
            else:
                send(f"-ERR unknown command: {line}")
            await writer.drain()

    async def _auth(self, arg: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        if mech == "LOGIN":
            answers = []
            for prompt in ("VXNlcm5hbWU6", "UGFzc3dvcmQ6"):
                writer.write(f"+ {prompt}\r\n".encode())
                await writer.drain()
                answer = await reader.readline()
                self.received.append(answer)
                answers.append(answer.decode().strip())
            return f"-ERR invalid login {answers[1]} ({_decoded(answers[1])})"
        if not initial:
            writer.write(b"+ \r\n")
            await writer.drain()
            line = await reader.readline()
            self.received.append(line)
            initial = line.decode().strip()
        if self.login and mech == "PLAIN":
            return "+OK authenticated"
        decoded = _decoded(initial)
        if mech in ("XOAUTH2", "OAUTHBEARER"):
            echo = base64.b64encode(f'{{"status":"401","token":"{decoded}"}}'.encode()).decode()
            writer.write(f"+ {echo}\r\n".encode())
            await writer.drain()
            await reader.readline()
        return f"-ERR invalid credentials {initial} = {decoded.replace(chr(0), ' ')}"

    async def _stls(self, writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
        injected = b"+OK injected plaintext\r\n-ERR not TLS at all\r\n"
        if self.stls == "inject":
            # One write: +OK and the injection leave in one segment.
            writer.write(b"+OK begin TLS\r\n" + injected)
        else:
            writer.write(b"+OK begin TLS\r\n")
        await writer.drain()
        if self.stls == "inject-late":
            # Long enough that the client has read +OK and started its
            # handshake: the plaintext answers its ClientHello.
            await asyncio.sleep(0.3)
            writer.write(injected)
            await writer.drain()
        if self.stls == "close":
            return
        # "silence" and the injections: read (and ignore) whatever comes, never answer.
        while await reader.read(4096):
            pass
        self.gone_after_stls.set()


# ---- running the real command against it ------------------------------------------

SECRET = "Pw-9e1b77-EchoMe!"  # distinctive: any hit is a leak
USER = "alice"


def secret_forms(secret: str = SECRET) -> list[str]:
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(f"\0{USER}\0{secret}".encode()).decode(),
    ]


async def run_cli(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pop3doctor",
        *args,
        env={**os.environ, "P3D_PW": SECRET, "COLUMNS": "200"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def diagnose_args(server: HostileServer, security: str = "plain", *extra: str) -> list[str]:
    return [
        "diagnose",
        "--host",
        server.host,
        "--port",
        str(server.port),
        "--security",
        security,
        "--allow-plaintext",
        "--user",
        USER,
        "--password-env",
        "P3D_PW",
        "--timeout",
        "2",
        "--lang",
        "en",
        *extra,
    ]


def fetch_args(server: HostileServer, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "fetch",
        "--host",
        server.host,
        "--port",
        str(server.port),
        "--security",
        "plain",
        "--allow-plaintext",
        "--user",
        USER,
        "--password-env",
        "P3D_PW",
        "--timeout",
        "2",
        "--maildir",
        str(tmp_path / "Maildir"),
        "--state",
        str(tmp_path / "state"),
        "--lang",
        "en",
        *extra,
    ]
