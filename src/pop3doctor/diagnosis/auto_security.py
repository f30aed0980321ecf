"""``--security auto`` on a port that does not say the mode: ask the server, without a password.

Only the port's number decides when it is a standard one (995 is SSL/TLS, 110
STARTTLS: the front ends do that themselves); otherwise both modes are probed
in parallel -- greeting, CAPA and the TLS upgrade, never a login -- and the
diagnosis then runs with the first one that worked.
"""

from __future__ import annotations

import asyncio

from pop3doctor.diagnosis.alternatives import probe
from pop3doctor.endpoint import Endpoint, Security, default_port
from pop3doctor.net.timeouts import Timeouts

#: The modes tried, best first (RFC 8314 prefers implicit TLS).  Plain text is
#: never chosen by itself: it has to be asked for.
_MODES = (Security.SSL, Security.STARTTLS)


async def auto_security(
    host: str, port: int | None, *, timeout: float, ca_file: str | None, nameservers: list[str] | None
) -> tuple[Security, int]:
    """The first mode of SSL/TLS, STARTTLS that answers on ``port`` (or its standard port when None).

    When neither answers, SSL/TLS on its port: the diagnosis of the
    recommended mode then explains why it fails.
    """
    combos = [(default_port(mode, port), mode) for mode in _MODES]
    base = Endpoint(host, combos[0][0], combos[0][1], "", ca_file=ca_file)
    timeouts = Timeouts.from_total(timeout)
    results = await asyncio.gather(
        *(probe(base, p, mode, timeouts=timeouts, nameservers=nameservers) for p, mode in combos)
    )
    for result in results:
        if result.ok:
            return result.security, result.port
    return combos[0][1], combos[0][0]
