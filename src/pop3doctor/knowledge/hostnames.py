""""Did you mean": server names close to one that does not exist.

Pure functions: which names to *consider* (built from the e-mail domain, its
MX and SRV records, and the known provider names and mail-host labels in
``data/hostnames.toml``)
and how close each is to what the user typed.  Looking the candidates up is
the diagnosis's job; this module does no I/O beyond reading its data file.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from pop3doctor.knowledge._data import load

#: Typos worth suggesting: one or two slips (a transposition counts as one).
#: Three edits turn most short names into other real names.
MAX_DISTANCE = 2


@cache
def known_hostnames() -> tuple[str, ...]:
    """POP3 server names of large providers, from ``data/hostnames.toml``."""
    return tuple(str(entry["name"]).lower() for entry in load("hostnames.toml")["host"])


@cache
def mail_host_prefixes() -> tuple[str, ...]:
    """First labels worth guessing for an incoming-mail host, best first ("pop", "pop3", "mail")."""
    return tuple(str(p).lower() for p in load("hostnames.toml")["mail_host"]["prefixes"])


@cache
def _mail_host_labels() -> frozenset[str]:
    other = load("hostnames.toml")["mail_host"]["other_labels"]
    return frozenset(mail_host_prefixes()) | {str(label).lower() for label in other}


def is_mail_host_label(label: str) -> bool:
    """Whether a host name's first ``label`` names a mail host (pop, mail, mx, ...), not the domain."""
    return label.lower() in _mail_host_labels()


def normalise(host: str) -> str:
    return host.strip().rstrip(".").lower()


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions
    and swaps of two neighbouring letters each cost 1 ("gmial" -> "gmail" is 1)."""
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def parent_domain(host: str) -> str | None:
    """``host`` without its first label, if at least two labels remain."""
    labels = normalise(host).split(".")
    return ".".join(labels[1:]) if len(labels) > 2 else None


def domain_candidates(
    domain: str, *, mx_hosts: Iterable[str] = (), srv_targets: Iterable[str] = ()
) -> list[str]:
    """Names a provider of ``domain`` would plausibly use for POP3, most specific first.

    SRV targets (RFC 6186 ``_pop3s._tcp``/``_pop3._tcp``) are the domain's own
    statement, so they come first; then ``pop.``/``pop3.``/``mail.`` of the
    domain; then, for each MX host, the host itself and the same prefixes on
    its parent domain (a domain hosted by a provider receives there).
    """
    out: list[str] = []

    def add(name: str) -> None:
        name = normalise(name)
        if name and name not in out:
            out.append(name)

    for target in srv_targets:
        add(target)
    domain = normalise(domain)
    prefixes = mail_host_prefixes()
    for prefix in prefixes:
        add(f"{prefix}.{domain}")
    for mx in mx_hosts:
        add(mx)
        parent = parent_domain(mx)
        if parent:
            for prefix in prefixes:
                add(f"{prefix}.{parent}")
    return out


def close_known_hostnames(host: str, max_distance: int = MAX_DISTANCE) -> list[str]:
    """Known provider names within ``max_distance`` edits of ``host``, closest first."""
    typed = normalise(host)
    scored = [(edit_distance(typed, name), name) for name in known_hostnames() if name != typed]
    return [name for dist, name in sorted(scored) if dist <= max_distance]


def rank_by_closeness(host: str, names: Iterable[str]) -> list[str]:
    """``names`` without ``host`` itself, closest to ``host`` first (stable among ties)."""
    typed = normalise(host)
    unique = list(dict.fromkeys(normalise(n) for n in names))
    return sorted((n for n in unique if n != typed), key=lambda n: edit_distance(typed, n))
