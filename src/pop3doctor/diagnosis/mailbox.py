"""The steps after login: the mailbox, a retrieval test, and a polite QUIT.

The retrieval test reads the header of the newest message (TOP n 0): never
RETR of everything, never DELE.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.model import Finding, Status
from pop3doctor.diagnosis.state import Diagnosable, Mailbox, RunState, need
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
