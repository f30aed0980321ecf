"""`discover` with no network at all: inside a network namespace that has only loopback (issue 16).

A help desk without Internet, a laptop whose connection is broken: only the bundled data can
answer there.  Each run happens in a namespace this test creates (loopback up, no other
interface, no route), so the network sources (autoconfig, DNS, guessing) can reach nothing and
nothing can leave this machine.  The expectation for each domain is read from the raw data
files (our providers_pop3.toml, the ISPDB import's JSON), not from the lookup code under test.

Domains: every Japanese one (ending in .jp, and mopera.net / nifty.com) in either table, and a
seeded sample of the rest of ISPDB's POP3 domains.
"""

from __future__ import annotations

import json
import random
import subprocess
import tomllib
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest

from support.netns import Namespace
from support.netns import namespace_factory as namespace_factory  # the fixture (explicit re-export)

pytestmark = pytest.mark.root

DATA = resources.files("pop3doctor.knowledge").joinpath("data")
OURS: list[dict[str, Any]] = tomllib.loads(DATA.joinpath("providers_pop3.toml").read_text("utf-8"))["provider"]
ISPDB: dict[str, Any] = json.loads(DATA.joinpath("ispdb_pop3.json").read_text("utf-8"))
JAPANESE_NOT_JP = {"mopera.net", "nifty.com"}

#: Runs inside the namespace: the library's own discover() with every source on, one address
#: after another, printing what it chose.
RUNNER = """
import asyncio, json, sys
from pop3doctor.discovery.engine import discover

async def main():
    out = {}
    for domain in json.loads(sys.argv[1]):
        result = await discover("taro@" + domain)
        chosen = result.chosen
        out[domain] = {
            "pop_offered": result.pop_offered,
            "chosen": None if chosen is None else [chosen.host, chosen.port, chosen.security.value, chosen.origin],
            "elapsed_ms": result.elapsed_ms,
        }
    print(json.dumps(out))

asyncio.run(main())
"""


def _fill(host: str, domain: str) -> str:
    return host.replace("%EMAILDOMAIN%", domain).replace("%EMAILLOCALPART%", "taro")


def expected(domain: str) -> tuple[bool, set[tuple[str, int, str]]]:
    """(POP offered, the servers a right answer may name) for ``domain``, from the data files."""
    for raw in OURS:
        if domain in [d.lower() for d in raw["domains"]]:
            if raw.get("pop", True) is False:
                return False, set()
            return True, {(s["host"], s["port"], s["security"]) for s in raw["server"]}
    for raw in ISPDB["providers"]:
        if domain in raw["domains"]:
            if not raw["pop"]:
                return False, set()
            return True, {(_fill(s["host"], domain), s["port"], s["security"]) for s in raw["servers"]}
    raise KeyError(domain)


def _domains() -> list[str]:
    ours = {d.lower() for raw in OURS for d in raw["domains"]}
    imported = {d for raw in ISPDB["providers"] for d in raw["domains"]}
    japanese = sorted(d for d in ours | imported if d.endswith(".jp") or d in JAPANESE_NOT_JP)
    pop3 = sorted(d for raw in ISPDB["providers"] if raw["pop"] for d in raw["domains"] if d not in japanese)
    return japanese + random.Random(16).sample(pop3, 40)


DOMAINS = _domains()


def _offline(namespace_factory: Callable[..., Namespace]) -> Namespace:
    ns = namespace_factory()
    subprocess.run(ns.command("ip", "link", "set", "lo", "up"), check=True, timeout=30)
    return ns


def test_every_japanese_domain_and_an_ispdb_sample_answered_with_no_network(
    namespace_factory: Callable[..., Namespace],
) -> None:
    ns = _offline(namespace_factory)
    proc = subprocess.run(ns.python("-c", RUNNER, json.dumps(DOMAINS)), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    answers = json.loads(proc.stdout)
    wrong = {}
    for domain in DOMAINS:
        pop, servers = expected(domain)
        got = answers[domain]
        if pop:
            ok = got["pop_offered"] is True and got["chosen"] is not None and tuple(got["chosen"][:3]) in servers
        else:
            ok = got["pop_offered"] is False and got["chosen"] is None
        if not ok:
            wrong[domain] = (got, pop, sorted(servers))
    assert not wrong, wrong
    japanese = [d for d in DOMAINS if d.endswith(".jp") or d in JAPANESE_NOT_JP]
    assert len(japanese) >= 100  # ISPDB's 133 Japanese POP3 domains and our entries
    # Answered from the bundled data at once: no source waited on the network.
    assert max(answers[d]["elapsed_ms"] for d in DOMAINS) < 1000


def test_the_cli_answers_offline_in_both_languages(namespace_factory: Callable[..., Namespace]) -> None:
    ns = _offline(namespace_factory)
    for address, host, no_pop in [
        ("taro@yahoo.co.jp", "pop.mail.yahoo.co.jp", False),
        ("taro@cc9.ne.jp", None, False),
        ("taro@docomo.ne.jp", None, True),
    ]:
        domain = address.split("@")[1]
        pop, servers = expected(domain)
        assert pop is not no_pop
        out: dict[str, Any] = {}
        for lang in ("ja", "en"):
            proc = subprocess.run(
                ns.python("-m", "pop3doctor", "discover", address, "--lang", lang, "--timeout", "2"),
                capture_output=True, text=True, timeout=60,
            )
            assert "Traceback" not in proc.stderr, proc.stderr
            out[lang] = proc.stdout
        if no_pop:
            assert "POP" in out["en"] and "IMAP" in out["en"], out["en"]
            continue
        want = host or sorted(servers)[0][0]
        assert want in out["ja"] and want in out["en"], out
        assert "受信メールサーバー" in out["ja"]


def test_the_sample_covers_what_the_issue_names() -> None:
    """The Japanese list includes the providers the issue names that the data answers."""
    for domain in ("yahoo.co.jp", "ybb.ne.jp", "outlook.jp", "live.co.jp", "docomo.ne.jp", "i.softbank.jp",
                   "ocn.ne.jp", "biglobe.ne.jp", "nifty.com", "mopera.net"):
        assert domain in DOMAINS, domain
    assert expected("docomo.ne.jp")[0] is False and expected("i.softbank.jp")[0] is False
