"""The diagnosis as a table of steps, run in order until one fails.

Each `Step` names the `RunState` fields it needs (provided by an earlier step)
and the ones it provides.  A step stops the run in one of two ways: it raises
an error of a failing server or network (a `DIAGNOSABLE` error; the step's
``failed`` handler turns it into findings), or it ends without providing what
it promised (login without a password, say).  The order depends on the
security setting only: with SSL/TLS the encryption comes before the greeting,
with STARTTLS after it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass

from pop3doctor.diagnosis import connecting, login, lookup, mailbox, session
from pop3doctor.diagnosis.model import Finding
from pop3doctor.diagnosis.state import DIAGNOSABLE, Diagnosable, RunState, evidence_of
from pop3doctor.endpoint import Security
from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.protocol.errors import LocalProtocolError

StepFn = Callable[[RunState], AsyncIterator[Finding]]
FailFn = Callable[[RunState, Diagnosable], AsyncIterator[Finding]]


@dataclass(frozen=True)
class Step:
    """One step of the diagnosis.

    ``stage`` is the report stage its findings are filed under.  ``failed``
    reports a `DIAGNOSABLE` error the step raised (None: one finding with the
    error's cause).  ``new_clock`` False keeps timing from the step before: the
    tls and capabilities steps report work timed with it (the implicit
    handshake on connecting, CAPA before STARTTLS).
    """

    name: str
    stage: str
    run: StepFn
    needs: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    failed: FailFn | None = None
    new_clock: bool = True


# name, stage, run; needs / provides (RunState fields); failure handler; clock.
NETWORK = Step("network", "network", lookup.network, provides=("lookup",))
RESOLVE = Step("resolve", "resolve", lookup.resolve_step, needs=("lookup",), provides=("addresses",))
CONNECT = Step(
    "connect", "connect", connecting.connect, needs=("lookup", "addresses"), provides=("client", "connected")
)
IMPLICIT_TLS = Step(
    "tls", "tls", session.implicit_tls, needs=("client", "connected"), failed=session.tls_failed, new_clock=False
)
STARTTLS = Step("tls", "tls", session.starttls, needs=("client",), failed=session.tls_failed, new_clock=False)
NO_TLS = Step("tls", "tls", session.no_tls, new_clock=False)
GREETING = Step(
    "greeting", "greeting", session.greeting, needs=("client",), provides=("greeting",), failed=session.greeting_failed
)
CAPA = Step("capa", "capabilities", session.capa, needs=("client",))
CAPABILITIES = Step(
    "capabilities", "capabilities", session.capabilities, needs=("client",), provides=("caps",), new_clock=False
)
LOGIN = Step(
    "login", "login", login.login, needs=("client", "caps"), provides=("mechanism",), failed=login.login_failed
)
MAILBOX = Step(
    "mailbox",
    "mailbox",
    mailbox.mailbox,
    needs=("client", "caps", "mechanism"),
    provides=("mailbox",),
    failed=mailbox.mailbox_failed,
)
RETRIEVAL = Step("retrieval", "retrieval", mailbox.retrieval, needs=("client", "mailbox"))
# Reached only when every step passed; files nothing, whatever happens.
QUIT = Step("quit", "retrieval", mailbox.quit_politely, needs=("client",), failed=mailbox.quit_failed, new_clock=False)

_BEFORE = (NETWORK, RESOLVE, CONNECT)
_AFTER = (CAPABILITIES, LOGIN, MAILBOX, RETRIEVAL, QUIT)

#: The steps in order, per security setting.
STEPS: dict[Security, tuple[Step, ...]] = {
    Security.SSL: (*_BEFORE, IMPLICIT_TLS, GREETING, CAPA, *_AFTER),
    Security.STARTTLS: (*_BEFORE, GREETING, CAPA, STARTTLS, *_AFTER),
    Security.PLAIN: (*_BEFORE, GREETING, CAPA, NO_TLS, *_AFTER),
}


async def run_steps(state: RunState) -> AsyncGenerator[Finding, None]:
    """Run the steps for the settings' security in order; yield their findings; stop at the first failure."""
    try:
        for step in STEPS[state.run.security]:
            state.run.step, state.run.stage = step.name, step.stage
            if step.new_clock:
                state.run.begin()
            before = state.provided()
            try:
                async for finding in step.run(state):
                    yield finding
            except LocalProtocolError:
                raise  # our own misuse of the protocol: a bug, never a finding about the server
            except DIAGNOSABLE as exc:
                # The one place where a failure of the server or the network
                # becomes findings (the step's own reading of it).  Any other
                # exception is a bug of ours and propagates: it must not pass
                # for a diagnosis.
                async for finding in _failed(step, state, exc):
                    yield finding
                return
            if not _went_on(step, before, state):
                return
    finally:
        if state.client is not None:
            await state.client.aclose()


def _failed(step: Step, state: RunState, exc: Diagnosable) -> AsyncIterator[Finding]:
    if step.failed is not None:
        return step.failed(state, exc)
    return _one_problem(step.stage, state, exc)


async def _one_problem(stage: str, state: RunState, exc: Diagnosable) -> AsyncIterator[Finding]:
    yield state.run.problem(stage, cause_for_error(exc), evidence=evidence_of(exc))


def _went_on(step: Step, before: dict[str, object], state: RunState) -> bool:
    """Whether ``step`` provided what it promised (and nothing else: the table is the contract)."""
    after = state.provided()
    written = {name for name, value in after.items() if value is not before[name]}
    if written - set(step.provides):
        raise RuntimeError(f"step {step.name} wrote {sorted(written - set(step.provides))}, not declared")
    return all(after[name] is not None for name in step.provides)
