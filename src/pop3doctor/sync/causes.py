"""Exception -> diagnosis cause code, for fetch failures.

The mapping itself is the diagnosis's (`knowledge.evidence.cause_for_error`),
so ``fetch`` and ``diagnose`` name the same failure the same way.  Fetch adds
one thing it knows better: after login, any lost or silent connection is a
dropped download, whatever the transport said.
"""

from __future__ import annotations

from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.net.errors import NetError, ReadTimeout
from pop3doctor.protocol.errors import RemoteClosed

#: Stages after login: a lost connection there is a dropped download.
RETRIEVAL_STAGES = frozenset({"list", "retrieve", "delete", "quit"})


def cause_for(exc: BaseException, stage: str) -> str:
    """The cause code for ``exc`` raised during ``stage``.

    ``stage`` is the fetch step: "connect", "login", "list", "retrieve",
    "delete" or "quit".
    """
    if isinstance(exc, ReadTimeout) and exc.limit == "throughput":
        return "server-too-slow"  # data kept dripping: not a dropped connection
    if stage in RETRIEVAL_STAGES and isinstance(exc, NetError | RemoteClosed):
        return "connection-dropped"
    # "connect" covers the greeting: garbage there means another service.
    return cause_for_error(exc, stage="greeting" if stage == "connect" else stage)
