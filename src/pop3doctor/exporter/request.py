"""A ``/probe`` request checked before any network work: target, module, account, time budget.

Everything a scrape sends is untrusted text (anyone who reaches the port can
send it), so each value is checked here and a mistake is a `BadRequest` with a
ja/en sentence, answered as 400 -- never a probe of something half-parsed.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass

from pop3doctor.endpoint import Security, host_problem
from pop3doctor.escaping import visible
from pop3doctor.i18n import Msg, catalog

_t = catalog("exporter")

#: The modules a request may name (blackbox_exporter's ``module`` parameter).
PROBE_MODULE = "pop3_probe"
ACCOUNT_MODULE = "account"
MODULES = (PROBE_MODULE, ACCOUNT_MODULE)

#: What blackbox_exporter takes off Prometheus's scrape timeout (its
#: ``--timeout-offset`` default): the answer must still travel back in time.
TIMEOUT_OFFSET = 0.5

#: Prometheus's own default scrape timeout: the budget when a request does not say.
DEFAULT_BUDGET = 10.0

#: Longer than any text a target or account name legitimately is (a DNS name is
#: at most 253 octets); a longer value is refused before it is parsed.
MAX_VALUE = 300


class BadRequest(Exception):
    """A ``/probe`` query that cannot be probed; ``msg`` says why in ja and en."""

    def __init__(self, msg: Msg) -> None:
        super().__init__(msg.en)
        self.msg = msg


@dataclass(frozen=True)
class Target:
    """``host:port`` from the ``target`` parameter; ``host`` without the brackets of an IPv6 literal."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ProbeRequest:
    module: str
    target: Target | None  # None: an account request that named no target
    security: Security | None  # None: the probe finds out what the port speaks
    account: str | None


def parse_target(value: str) -> Target:
    """``host:port`` or ``[v6-address]:port``; `BadRequest` for anything else."""
    shown = visible(value[:MAX_VALUE])
    bad = BadRequest(_t.BAD_TARGET.format(target=shown))
    if len(value) > MAX_VALUE or "/" in value or "@" in value:
        raise bad  # a URL or user@host pasted as a target
    if value.startswith("["):
        host, sep, port_text = value[1:].partition("]:")
        if not sep:
            raise bad
        try:
            if ipaddress.ip_address(host).version != 6:
                raise bad
        except ValueError:
            raise bad from None
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep or not host or ":" in host:  # a bare IPv6 address needs its brackets
            raise bad
    if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
        raise BadRequest(_t.BAD_PORT.format(target=shown))
    problem = host_problem(host)
    if problem is not None:
        raise BadRequest(problem)
    return Target(host, int(port_text))


def parse_probe(query: Mapping[str, str], accounts: frozenset[str]) -> ProbeRequest:
    """The checked request; ``accounts`` are the names of accounts.toml (empty without --config)."""
    module = query.get("module", PROBE_MODULE)
    if module not in MODULES:
        raise BadRequest(_t.BAD_MODULE.format(module=visible(module[:MAX_VALUE]), modules=", ".join(MODULES)))
    raw_target = query.get("target")
    target = parse_target(raw_target) if raw_target else None
    security = _security(query.get("security"))
    if module == PROBE_MODULE:
        if target is None:
            raise BadRequest(_t.NEED_TARGET)
        return ProbeRequest(module, target, security, None)
    account = query.get("account")
    if not accounts:
        raise BadRequest(_t.NO_CONFIG)
    if not account:
        raise BadRequest(_t.NEED_ACCOUNT.format(accounts=", ".join(sorted(accounts))))
    if account not in accounts:
        raise BadRequest(
            _t.UNKNOWN_ACCOUNT.format(account=visible(account[:MAX_VALUE]), accounts=", ".join(sorted(accounts)))
        )
    return ProbeRequest(module, target, security, account)


def _security(value: str | None) -> Security | None:
    if value is None or value == "":
        return None
    try:
        return Security(value)
    except ValueError:
        raise BadRequest(_t.BAD_SECURITY.format(security=visible(value[:MAX_VALUE]))) from None


def budget(header: str | None, ceiling: float) -> float:
    """Seconds one probe may take: Prometheus's ``X-Prometheus-Scrape-Timeout-Seconds``
    less `TIMEOUT_OFFSET`, at most ``ceiling`` (``--max-timeout``); `DEFAULT_BUDGET` when absent.

    A header that is not a positive number is ignored rather than refused: it
    is Prometheus's, and a scrape should not fail for it.
    """
    try:
        scrape = float(header) if header is not None else math.nan
    except ValueError:
        scrape = math.nan
    if not (scrape > 0 and math.isfinite(scrape)):
        return min(DEFAULT_BUDGET, ceiling)
    # Never less than a fraction of a second: a 0.5 s scrape timeout still gets a try.
    return min(max(scrape - TIMEOUT_OFFSET, 0.2), ceiling)
