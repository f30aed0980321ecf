"""``--security auto`` on a port that does not say the mode: ask the server, without a password.

Only the port's number decides when it is a standard one (995 is SSL/TLS, 110
STARTTLS: the front ends do that themselves); otherwise both modes are probed
in parallel -- greeting, CAPA and the TLS upgrade, never a login -- and the
diagnosis then runs with the first one that worked.  Once SSL/TLS has
answered, the STARTTLS probe is stopped: on an implicit-TLS port it would
only wait out the greeting timeout.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from pop3doctor.diagnosis.alternatives import ProbeResult, probe
from pop3doctor.endpoint import Endpoint, Security, default_port
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.racing import race

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
    work = {mode: probe(base, p, mode, timeouts=timeouts, nameservers=nameservers) for p, mode in combos}

    def settled(results: Mapping[Security, ProbeResult], pending: Collection[Security]) -> bool:
        # SSL/TLS is preferred: once it works, STARTTLS cannot change the answer.  Nor
        # can it when TLS was spoken on its own port (a failing certificate): that
        # port stays silent to clear text until the greeting timeout.
        ssl = results.get(Security.SSL)
        return ssl is not None and (ssl.ok or (ssl.cert_failed and combos[0][0] == combos[1][0]))

    out = await race(work, settled=settled)
    for mode in _MODES:
        result = out.results.get(mode)
        if result is not None and result.ok:
            return result.security, result.port
    return combos[0][1], combos[0][0]
