"""POP3 commands: validation, encoding, and redaction for transcripts.

Arguments are checked here, once, so no caller can smuggle a second command
(CR, LF) or truncate a C-string-handling server (NUL) through a user name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pop3doctor.protocol.errors import LocalProtocolError
from pop3doctor.protocol.limits import MAX_COMMAND_LINE

#: Commands whose response is multi-line when it is +OK, whatever the arguments.
_ALWAYS_MULTILINE = frozenset({"CAPA", "RETR", "TOP"})
#: Commands whose response is multi-line only without an argument (a listing).
_MULTILINE_WITHOUT_ARG = frozenset({"LIST", "UIDL", "AUTH"})
#: Authentication-boundary commands: sent alone and never pipelined with others,
#: because some servers hand the connection to a new process at login and drop
#: whatever was already queued (Dovecot's login/post-login split is one such design).
BARRIER_COMMANDS = frozenset({"USER", "PASS", "APOP", "AUTH", "STLS"})

_FORBIDDEN = frozenset("\r\n\0")


@dataclass(frozen=True, slots=True)
class Command:
    """One POP3 command.  ``secret`` marks arguments that transcripts must hide."""

    name: str
    args: tuple[str, ...] = ()
    secret: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name.isascii() or not self.name.isalpha():
            raise LocalProtocolError(f"bad command name {self.name!r}")
        for arg in self.args:
            if _FORBIDDEN.intersection(arg):
                raise LocalProtocolError(
                    f"{self.name}: argument contains CR, LF or NUL (refused: it would inject a command)"
                )
            if arg == "" and self.name != "AUTH":
                raise LocalProtocolError(f"{self.name}: empty argument")

    @property
    def multiline(self) -> bool:
        """True when a +OK answer to this command is followed by a dot-terminated body."""
        if self.name in _ALWAYS_MULTILINE:
            return True
        return self.name in _MULTILINE_WITHOUT_ARG and not self.args

    @property
    def barrier(self) -> bool:
        return self.name in BARRIER_COMMANDS

    def encode(self) -> bytes:
        line = " ".join((self.name, *self.args)).encode("utf-8") + b"\r\n"
        if len(line) > MAX_COMMAND_LINE:
            raise LocalProtocolError(
                f"{self.name}: command line of {len(line)} octets exceeds RFC 2449's {MAX_COMMAND_LINE}"
            )
        return line

    def redacted(self) -> str:
        """The command as a transcript may show it: no password, digest or SASL data."""
        if self.name == "PASS":
            return "PASS ********"
        if self.name == "APOP" and self.args:
            return f"APOP {self.args[0]} ********"
        if self.name == "AUTH" and len(self.args) > 1:
            return f"AUTH {self.args[0]} ********"
        if self.secret:
            return f"{self.name} ********"
        return " ".join((self.name, *self.args))


def user(name: str) -> Command:
    return Command("USER", (name,))


def pass_(password: str) -> Command:
    return Command("PASS", (password,), secret=True)


def apop(name: str, digest: str) -> Command:
    return Command("APOP", (name, digest), secret=True)


def auth(mechanism: str, initial_response: str | None = None) -> Command:
    args = (mechanism,) if initial_response is None else (mechanism, initial_response)
    return Command("AUTH", args, secret=initial_response is not None)


def simple(name: str, *args: int | str) -> Command:
    """CAPA, STAT, LIST, UIDL, RETR, TOP, DELE, NOOP, RSET, QUIT, STLS, UTF8."""
    return Command(name, tuple(str(a) for a in args))
