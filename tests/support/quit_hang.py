"""A small POP3 server that serves its mailbox normally and then hangs on QUIT (issue 12).

Everything up to QUIT is ordinary RFC 1939 (USER/PASS, STAT, UIDL, LIST,
RETR, DELE, no pipelining); QUIT is read and never answered, and the
connection stays open.  A client interrupted in that wait has already asked
the server to commit its deletions, so its Ctrl-C message must not claim that
no QUIT was sent.  ``quit_seen`` is set the moment QUIT arrives.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

from support.messages import make_message

USER = "alice"
PASSWORD = "Quit-Hang-Pw-1"


class QuitHangServer:
    def __init__(self, messages: int = 3, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.messages = [make_message(i, 1500 + 100 * i) for i in range(messages)]
        self.deleted: set[int] = set()
        self.quit_seen = threading.Event()
        self._sock: socket.socket | None = None
        self._conns: list[socket.socket] = []

    def __enter__(self) -> QuitHangServer:
        self._sock = socket.create_server((self.host, 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._sock is not None
        self._sock.close()
        for conn in self._conns:
            conn.close()

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _addr = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        try:
            self._serve(conn.makefile("rb"), conn)
        except OSError:
            pass

    def _serve(self, lines: object, conn: socket.socket) -> None:
        def send(*out: bytes) -> None:
            conn.sendall(b"".join(line + b"\r\n" for line in out))

        send(b"+OK quit-hang ready")
        for raw in iter(lines.readline, b""):  # type: ignore[attr-defined]
            verb, _, arg = raw.decode("ascii", "replace").strip().partition(" ")
            verb = verb.upper()
            live = [n for n in range(1, len(self.messages) + 1) if n not in self.deleted]
            if verb == "CAPA":
                send(b"+OK", b"USER", b"UIDL", b".")
            elif verb == "USER":
                send(b"+OK")
            elif verb == "PASS":
                send(b"+OK logged in" if arg == PASSWORD else b"-ERR [AUTH] wrong password")
            elif verb == "STAT":
                send(f"+OK {len(live)} {sum(len(self.messages[n - 1]) for n in live)}".encode())
            elif verb == "UIDL":
                send(b"+OK", *(f"{n} uid-{n}".encode() for n in live), b".")
            elif verb == "LIST":
                send(b"+OK", *(f"{n} {len(self.messages[n - 1])}".encode() for n in live), b".")
            elif verb == "RETR" and arg.isdigit() and int(arg) in live:
                body = self.messages[int(arg) - 1].replace(b"\r\n.", b"\r\n..")
                conn.sendall(b"+OK\r\n" + body + b".\r\n")
            elif verb == "DELE" and arg.isdigit() and int(arg) in live:
                self.deleted.add(int(arg))
                send(b"+OK deleted")
            elif verb == "QUIT":
                self.quit_seen.set()
                # Never answer; keep the connection open until the client leaves.
                while conn.recv(4096):
                    pass
                return
            else:
                send(b"-ERR unknown command")
