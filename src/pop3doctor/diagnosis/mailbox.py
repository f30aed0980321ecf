"""The steps after login: the mailbox, a retrieval test, and a polite QUIT.

The retrieval test reads the header of the newest message (TOP n 0): never
RETR of everything, never DELE.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from pop3doctor.client import Pop3Client
from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.model import Finding, Status
from pop3doctor.diagnosis.state import DIAGNOSABLE, Diagnosable, Mailbox, RunState, evidence_of, need
from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.protocol.errors import LocalProtocolError, RemoteClosed
from pop3doctor.units import human_size

#: A message larger than this gets a warning: many mail programs and
#: providers time out or refuse messages of this size (Gmail's own limit is 25 MB).
LARGE_MESSAGE = 25 * 1024 * 1024


async def mailbox(state: RunState) -> AsyncIterator[Finding]:
    """STAT, LIST and UIDL; warns of an empty mailbox or a huge message; provides ``mailbox``."""
    run, client, caps = state.run, need(state.client), need(state.caps)
    count, size = await client.stat()
    sizes: Mapping[int, int] = await client.list() if count else {}
    uids: Mapping[int, str] | None = await client.uidl() if count else {}
    evidence = {"count": count, "octets": size, "uidl": uids is not None, "expire": caps.expire}
    yield run.passed("mailbox", m.MAILBOX_OK, evidence, count=count, size=human_size(size))
    if count == 0:
        yield run.problem("mailbox", "mailbox-empty", status=Status.WARN, evidence=evidence)
    else:
        msgnum, octets = max(sizes.items(), key=lambda kv: kv[1])
        if octets > LARGE_MESSAGE:
            run.values.update(msgnum=msgnum, size=human_size(octets))
            yield run.problem(
                "mailbox",
                "message-too-large",
                status=Status.WARN,
                evidence={"msgnum": msgnum, "octets": octets, "limit": LARGE_MESSAGE},
            )
    state.mailbox = Mailbox(count, size)


async def _listings(client: Pop3Client) -> None:
    count, _size = await client.stat()
    if count:
        await client.list()
        await client.uidl()


async def mailbox_failed(state: RunState, exc: Diagnosable) -> AsyncIterator[Finding]:
    """A listing failed.  A connection closed in the middle of one is asked again once.

    A dropped connection usually means the network (Wi-Fi, security software).
    But some servers close at one command every time -- Dovecot with a
    ``pop3_uidl_format`` its storage cannot give answers UIDL with "+OK" and
    closes -- and then "check your network" cannot help.  The password has just
    worked, so one more login with it risks no lockout: the same listings on a
    new connection tell the two apart.  Closed again at the same command: the
    server fails there (``retrieval-failed``); anything else: the drop stands.
    """
    run = state.run
    evidence = evidence_of(exc)
    cause = cause_for_error(exc)
    note = None
    password = state.options.password
    if cause == "connection-dropped" and isinstance(exc, RemoteClosed) and password is not None:
        again = await _closed_again(state, password, exc.during)
        evidence["asked_again"] = {"command": exc.during, "closed_again": again}
        if again:
            cause = "retrieval-failed"
            note = m.fmt(m.NOTE_CLOSED_AT_COMMAND_TWICE, command=exc.during)
    yield run.problem("mailbox", cause, evidence=evidence, note=note)


async def _closed_again(state: RunState, password: str, command: str) -> bool:
    """The listings on a new connection: True when the server closes at ``command`` again."""
    client = state.run.new_client()
    try:
        await client.connect()
        await client.login(state.run.settings.user, password, mechanism=state.mechanism)
        await _listings(client)
        await client.quit()
        return False
    except RemoteClosed as again:
        return again.during == command
    except LocalProtocolError:
        raise  # our own bug, not an answer of the server
    except DIAGNOSABLE:  # anything else this time: not the same failure
        return False
    finally:
        await client.aclose()


async def retrieval(state: RunState) -> AsyncIterator[Finding]:
    """The newest message's header, never the whole mailbox."""
    run, count = state.run, need(state.mailbox).count
    if count == 0:
        yield run.skipped("retrieval", m.NOT_REACHED)
        return
    header = await need(state.client).top(count, 0)
    evidence = {"msgnum": count, "bytes": len(header)}
    yield run.passed("retrieval", m.RETRIEVAL_OK, evidence, msgnum=count, bytes=len(header))


async def quit_politely(state: RunState) -> AsyncIterator[Finding]:
    """QUIT once every step passed (the pipeline closes the connection in any case)."""
    await need(state.client).quit()
    return
    yield  # an async generator that reports nothing


async def quit_failed(state: RunState, exc: Diagnosable) -> AsyncIterator[Finding]:
    """The diagnosis is complete; a failing QUIT changes nothing."""
    return
    yield  # an async generator that reports nothing
