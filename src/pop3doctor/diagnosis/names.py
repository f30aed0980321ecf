"""'Did you mean': real names close to a server name that does not exist.

Provider names come from the bundled knowledge (within a couple of typos);
names built from the e-mail domain (its MX and SRV targets, the usual
``pop.`` forms) are suggested only when they resolve.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pop3doctor.knowledge.hostnames import close_known_hostnames, domain_candidates, rank_by_closeness
from pop3doctor.net.errors import NetError
from pop3doctor.net.probe import lookup_targets
from pop3doctor.net.resolve import resolve

#: How many "did you mean" names to show at most.
MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class HostSuggestion:
    """A name close to the one that does not exist.

    ``source`` is "provider" (a known provider name, not looked up), or
    "domain", "mx", "srv" (built from the e-mail domain and looked up:
    ``addresses`` is non-empty).
    """

    name: str
    source: str
    addresses: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "source": self.source, "addresses": list(self.addresses)}


async def did_you_mean(
    host: str, email_domain: str | None, *, nameservers: list[str] | None, timeout: float
) -> list[HostSuggestion]:
    """Names to suggest for ``host`` (which does not exist), best first, at most `MAX_SUGGESTIONS`.

    Names built from the e-mail domain are suggested only when they resolve;
    provider names only when within a couple of typos of ``host``.
    """
    known = [HostSuggestion(name, "provider") for name in close_known_hostnames(host)]
    built = await _from_domain(host, email_domain, nameservers=nameservers, timeout=timeout) if email_domain else []
    out: list[HostSuggestion] = []
    for suggestion in [*known, *built]:
        if suggestion.name not in {s.name for s in out} and suggestion.name != host.lower():
            out.append(suggestion)
    return out[:MAX_SUGGESTIONS]


async def _from_domain(
    host: str, email_domain: str, *, nameservers: list[str] | None, timeout: float
) -> list[HostSuggestion]:
    """Names built from the e-mail domain (its SRV and MX targets first) that resolve, closest first."""
    srv_lists = await asyncio.gather(
        *(
            lookup_targets(f"{svc}.{email_domain}", "SRV", timeout=timeout, nameservers=nameservers)
            for svc in ("_pop3s._tcp", "_pop3._tcp")
        ),
        lookup_targets(email_domain, "MX", timeout=timeout, nameservers=nameservers),
    )
    srv = [t for targets in srv_lists[:2] for t in targets]
    mx = srv_lists[2]
    names = domain_candidates(email_domain, mx_hosts=mx, srv_targets=srv)
    origin = {name: "domain" for name in names}
    origin.update({name: "mx" for name in mx})
    origin.update({name: "srv" for name in srv})

    async def lookup(name: str) -> HostSuggestion | None:
        try:
            found = await resolve(name, timeout=timeout, nameservers=nameservers)
        except NetError:
            return None
        return HostSuggestion(name, origin[name], tuple(ip for _, ip in found))

    looked_up = await asyncio.gather(*(lookup(n) for n in rank_by_closeness(host, names)))
    return [s for s in looked_up if s is not None]


def email_domain_of(user: str, given: str | None) -> str | None:
    if given:
        return given.split("@")[-1].strip().lower() or None
    if "@" in user:
        return user.rsplit("@", 1)[1].strip().lower() or None
    return None
