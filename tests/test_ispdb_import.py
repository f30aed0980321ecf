"""Thunderbird's ISPDB, imported by tools/import_ispdb.py into knowledge/data/ispdb_pop3.json.

- the committed file is what the importer writes from the recorded commit
  (byte for byte, when the snapshot is on this machine; otherwise its own
  counts and content hash are checked, and a small ISPDB built here in git is
  imported and checked);
- offline, the bundled lookup answers every POP3 domain of that commit with
  one of ISPDB's servers, or with our own table's fact, which overrides it;
- sub-domain rules: an exact domain wins; a parent's entry covers sub-domains
  only where it says ``subdomains = true``;
- ``pop3doctor discover`` answers an ISPDB domain with no network source.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from pop3doctor.discovery import Source, UsernameForm, parse_address
from pop3doctor.discovery.providers import (
    ORIGIN_ISPDB,
    ORIGIN_OURS,
    build_index,
    fill,
    ispdb,
    lookup,
    match_domain,
    parse_ispdb_provider,
    parse_provider,
    providers,
)
from pop3doctor.endpoint import Security
from support.dns_server import LocalDnsServer

ROOT = Path(__file__).resolve().parents[1]
IMPORTER = ROOT / "tools" / "import_ispdb.py"
SNAPSHOT = Path(os.environ.get("P3D_ISPDB_GITDIR", "/work/.mirror/thunderbird+autoconfig/repo"))
DATA = json.loads(resources.files("pop3doctor.knowledge").joinpath("data", "ispdb_pop3.json").read_text("utf-8"))

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def run_importer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(IMPORTER), *args], capture_output=True, text=True, timeout=120)


def canonical_hash(providers_raw: list[dict[str, Any]]) -> str:
    import hashlib

    text = json.dumps(providers_raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- (a) the committed file ----------------------------------------------------------------


@needs_git
@pytest.mark.skipif(not (SNAPSHOT / "HEAD").is_file(), reason=f"no ISPDB snapshot at {SNAPSHOT} (set P3D_ISPDB_GITDIR)")
def test_the_importer_reproduces_the_committed_file_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "ispdb_pop3.json"
    done = run_importer(str(SNAPSHOT), "--commit", DATA["commit"], "--out", str(out))
    assert done.returncode == 0, done.stderr
    committed = resources.files("pop3doctor.knowledge").joinpath("data", "ispdb_pop3.json").read_bytes()
    assert out.read_bytes() == committed


def test_the_committed_file_matches_its_own_counts_and_hash() -> None:
    assert DATA["schema"] == "pop3doctor.ispdb-import/1"
    assert DATA["repository"] == "thunderbird/autoconfig"
    assert len(DATA["commit"]) == 40 and int(DATA["commit"], 16) >= 0
    items = DATA["providers"]
    assert DATA["content_sha256"] == canonical_hash(items)
    pop = [p for p in items if p["pop"]]
    counts = DATA["counts"]
    assert counts["providers"] == len(items)
    assert counts["domains"] == sum(len(p["domains"]) for p in items)
    assert counts["pop3_domains"] == sum(len(p["domains"]) for p in pop)
    assert counts["pop3_servers"] == sum(len(p["servers"]) for p in pop)
    assert counts["imap_only_providers"] == len(items) - len(pop)
    assert counts["skipped"] == len(DATA["skipped"])
    # What the issue measured at this commit: 941 domains with a POP3 server.
    assert counts["pop3_domains"] >= 900
    domains = [d for p in items for d in p["domains"]]
    assert len(domains) == len(set(domains))
    for p in items:
        assert p["source"] == f"thunderbird/autoconfig:{p['file']}@{DATA['commit']}"
        assert p["pop"] == bool(p["servers"]) and (p["pop"] or p["imap"])
    # The loader reads the same file.
    snapshot = ispdb()
    assert (snapshot.commit, snapshot.content_sha256) == (DATA["commit"], DATA["content_sha256"])
    assert len(snapshot.providers) == len(items)


# --- (a) a small ISPDB made here -------------------------------------------------------------

_POP = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="popmail.test">
    <domain>popmail.test</domain>
    <domain>POP2.popmail.test</domain>
    <displayName>Pop &amp; Mail</displayName>
    <incomingServer type="imap">
      <hostname>imap.popmail.test</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.popmail.test</hostname><port>995</port><socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>POP.popmail.test</hostname><port>110</port><socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%.%EMAILDOMAIN%</username><authentication>password-encrypted</authentication>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>bad host</hostname><port>995</port><socketType>SSL</socketType>
    </incomingServer>
    <documentation url="https://popmail.test/help"><descr lang="en">Help</descr></documentation>
  </emailProvider>
</clientConfig>
"""
_IMAP_ONLY = """<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="imaponly.test">
  <domain>imaponly.test</domain><displayName>IMAP Only</displayName>
  <incomingServer type="imap"><hostname>imap.imaponly.test</hostname><port>993</port>
    <socketType>SSL</socketType><username>%EMAILADDRESS%</username></incomingServer>
</emailProvider></clientConfig>
"""
_PLACEHOLDER = """<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="%EMAILDOMAIN%">
  <domain>hosted-a.test</domain><domain>hosted-b.test</domain><displayName>%EMAILDOMAIN%</displayName>
  <incomingServer type="pop3"><hostname>mail.%EMAILDOMAIN%</hostname><port>110</port>
    <socketType>plain</socketType><username>%EMAILADDRESS%</username></incomingServer>
</emailProvider></clientConfig>
"""
_MALFORMED = "<?xml version='1.0'?><clientConfig><emailProvider id='broken.test'><domain>broken.test</domain>"
_DTD = """<?xml version="1.0"?>
<!DOCTYPE clientConfig [<!ENTITY x "pop.evil.test">]>
<clientConfig><emailProvider id="evil.test"><domain>evil.test</domain>
<incomingServer type="pop3"><hostname>&x;</hostname><port>995</port><socketType>SSL</socketType></incomingServer>
</emailProvider></clientConfig>
"""


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.test", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


@pytest.fixture
def small_ispdb(tmp_path: Path) -> tuple[Path, str, str]:
    """A git repository with an ISPDB of five files; (git dir, first commit, second commit)."""
    repo = tmp_path / "autoconfig"
    (repo / "ispdb").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "ispdb" / "popmail.test.xml").write_text(_POP)
    (repo / "ispdb" / "imaponly.test.xml").write_text(_IMAP_ONLY)
    (repo / "ispdb" / "hosted.test.xml").write_text(_PLACEHOLDER)
    (repo / "ispdb" / "broken.test.xml").write_text(_MALFORMED)
    (repo / "ispdb" / "evil.test.xml").write_text(_DTD)
    (repo / "ispdb" / "README.txt").write_text("not a config file")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "one")
    first = _git(repo, "rev-parse", "HEAD")
    (repo / "ispdb" / "imaponly.test.xml").unlink()
    _git(repo, "commit", "-q", "-a", "-m", "two")
    second = _git(repo, "rev-parse", "HEAD")
    # Work-tree changes must not matter: only the commit is read.
    (repo / "ispdb" / "popmail.test.xml").write_text("<junk")
    return repo / ".git", first, second


@needs_git
def test_a_small_ispdb_imports_deterministically_and_correctly(small_ispdb: tuple[Path, str, str],
                                                                tmp_path: Path) -> None:
    gitdir, first, second = small_ispdb
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert run_importer(str(gitdir), "--commit", first, "--out", str(one)).returncode == 0
    assert run_importer(str(gitdir), "--commit", first[:10], "--out", str(two)).returncode == 0
    assert one.read_bytes() == two.read_bytes()
    data = json.loads(one.read_text("utf-8"))
    assert data["commit"] == first and data["commit_date"].startswith("2026-01-02T03:04:05")
    assert data["content_sha256"] == canonical_hash(data["providers"])
    by_id = {p["id"]: p for p in data["providers"]}
    assert list(by_id) == ["%EMAILDOMAIN%", "imaponly.test", "popmail.test"]  # sorted by file

    pop = by_id["popmail.test"]
    assert pop["name"] == "Pop & Mail" and pop["domains"] == ["pop2.popmail.test", "popmail.test"]
    assert pop["pop"] is True and pop["documentation"] == ["https://popmail.test/help"]
    assert pop["source"] == f"thunderbird/autoconfig:ispdb/popmail.test.xml@{first}"
    assert [(s["host"], s["port"], s["security"], s["username"]) for s in pop["servers"]] == [
        ("pop.popmail.test", 995, "ssl", "local-part"),
        ("pop.popmail.test", 110, "starttls", "literal"),
    ]
    assert pop["servers"][1]["username_template"] == "%EMAILLOCALPART%.%EMAILDOMAIN%"
    assert pop["servers"][1]["auth"] == ["password-encrypted"]
    assert "imap" not in pop

    imap = by_id["imaponly.test"]
    assert imap["pop"] is False and imap["servers"] == []
    assert [(s["host"], s["port"], s["security"]) for s in imap["imap"]] == [("imap.imaponly.test", 993, "ssl")]

    hosted = by_id["%EMAILDOMAIN%"]
    assert hosted["servers"][0]["host"] == "mail.%EMAILDOMAIN%" and hosted["servers"][0]["security"] == "plain"

    reasons = {(s["file"], s["reason"].split(":")[0]) for s in data["skipped"]}
    assert ("ispdb/broken.test.xml", "malformed XML") in reasons
    assert ("ispdb/evil.test.xml", "DOCTYPE/DTD is not allowed") in reasons
    assert ("ispdb/popmail.test.xml", "pop3 server skipped") in reasons
    assert data["counts"] == {
        "files": 5, "providers": 3, "domains": 5, "pop3_providers": 2, "pop3_domains": 4, "pop3_servers": 3,
        "imap_only_providers": 1, "imap_only_domains": 1, "skipped": 3,
    }

    # Another commit gives another file; a commit that does not exist is an error, not an empty file.
    assert run_importer(str(gitdir), "--commit", second, "--out", str(two)).returncode == 0
    later = json.loads(two.read_text("utf-8"))
    assert later["commit"] == second and "imaponly.test" not in {p["id"] for p in later["providers"]}
    bad = run_importer(str(gitdir), "--commit", "0" * 40, "--out", str(tmp_path / "bad.json"))
    assert bad.returncode == 1 and "import_ispdb:" in bad.stderr and not (tmp_path / "bad.json").exists()


@needs_git
def test_imported_entries_answer_lookups(small_ispdb: tuple[Path, str, str], tmp_path: Path) -> None:
    """The small import through the real parser and index: placeholders filled, IMAP-only is 'no POP'."""
    gitdir, first, _ = small_ispdb
    out = tmp_path / "one.json"
    assert run_importer(str(gitdir), "--commit", first, "--out", str(out)).returncode == 0
    data = json.loads(out.read_text("utf-8"))
    imported = tuple(parse_ispdb_provider(p, f"https://example.test/{p['file']}") for p in data["providers"])
    index = build_index((), imported)
    hosted = match_domain("hosted-b.test", index)
    assert hosted is not None and hosted.provider.origin == ORIGIN_ISPDB
    address = parse_address("Kim@hosted-b.test")
    assert fill(hosted.provider.servers[0].host, address) == "mail.hosted-b.test"
    assert hosted.provider.warnings == ()
    imap = match_domain("imaponly.test", index)
    assert imap is not None and imap.provider.pop is False
    [warning] = imap.provider.warnings
    assert warning.code == "no-pop" and "imap.imaponly.test:993" in warning.text.en
    assert match_domain("sub.popmail.test", index) is None  # ISPDB entries are exact-domain only


# --- (b) offline coverage of ISPDB's POP3 domains ---------------------------------------------


def _ispdb_servers(raw: dict[str, Any], domain: str) -> set[tuple[str, int, Security]]:
    address = parse_address(f"someone@{domain}")
    return {(fill(s["host"], address).lower(), s["port"], Security(s["security"])) for s in raw["servers"]}


def overrides() -> tuple[int, list[tuple[str, str, bool]]]:
    """(POP3 domains answered, [(domain, our entry, agrees with ISPDB)]) for those our table answers."""
    answered = 0
    ours: list[tuple[str, str, bool]] = []
    for raw in DATA["providers"]:
        if not raw["pop"]:
            continue
        for domain in raw["domains"]:
            report = lookup(parse_address(f"someone@{domain}"))
            found = match_domain(domain)
            assert report.answered and found is not None, domain
            got = {c.key for c in report.candidates}
            if found.provider.origin == ORIGIN_OURS:
                ours.append((domain, found.provider.id, bool(got & _ispdb_servers(raw, domain))))
            else:
                assert got and got <= _ispdb_servers(raw, domain), domain
                assert all(c.origin == ORIGIN_ISPDB and DATA["commit"] in c.evidence for c in report.candidates)
            answered += 1
    return answered, ours


def test_every_ispdb_pop3_domain_is_answered_offline_by_ispdb_or_our_own_fact() -> None:
    answered, ours = overrides()
    assert answered == DATA["counts"]["pop3_domains"]
    for domain, provider_id, _agrees in ours:
        provider = next(p for p in providers() if p.id == provider_id)
        assert domain in provider.domains  # exact: our parent rules never shadow an ISPDB domain
        assert provider.pop is False or all(s.source.startswith(("https://", "http://")) for s in provider.servers)
    print(f"\n{answered}/{DATA['counts']['pop3_domains']} ISPDB POP3 domains answered offline; "
          f"{len(ours)} by our own table:")
    for domain, provider_id, agrees in ours:
        print(f"  {domain}: providers_pop3.toml {provider_id} ({'agrees with' if agrees else 'overrides'} ISPDB)")


def test_ispdb_imap_only_domains_say_no_pop_unless_our_table_knows_better() -> None:
    for raw in DATA["providers"]:
        if raw["pop"]:
            continue
        for domain in raw["domains"]:
            report = lookup(parse_address(f"someone@{domain}"))
            found = match_domain(domain)
            assert found is not None and report.answered, domain
            if found.provider.origin == ORIGIN_ISPDB:
                assert report.pop_offered is False and not report.candidates
                [warning] = [w for w in report.warnings if w.code == "no-pop"]
                assert raw["imap"][0]["host"].replace("%EMAILDOMAIN%", domain) in warning.text.en
                assert warning.url == f"https://github.com/thunderbird/autoconfig/blob/{DATA['commit']}/{raw['file']}"


# --- (c) sub-domain rules -----------------------------------------------------------------------

_OURS = """
[[provider]]
id = "wild"
name = "Wild ISP"
domains = ["wild.test"]
subdomains = true
subdomains_source = "https://wild.test/help/any-subdomain"
[[provider.server]]
host = "pop.wild.test"
port = 995
security = "ssl"
source = "https://wild.test/help"

[[provider]]
id = "tame"
name = "Tame ISP"
domains = ["tame.test", "deep.wild.test"]
[[provider.server]]
host = "pop.tame.test"
port = 995
security = "ssl"
source = "https://tame.test/help"
"""


def _ispdb_entry(domains: list[str], host: str) -> dict[str, Any]:
    return {"id": domains[0], "file": f"ispdb/{domains[0]}.xml", "name": domains[0], "domains": domains,
            "documentation": [], "pop": True, "source": f"thunderbird/autoconfig:ispdb/{domains[0]}.xml@c0ffee",
            "servers": [{"host": host, "port": 995, "security": "ssl", "username": "address",
                         "username_template": "%EMAILADDRESS%", "auth": ["password-cleartext"]}]}


def _index() -> Any:
    ours = tuple(parse_provider(p) for p in tomllib.loads(_OURS)["provider"])
    imported = tuple(parse_ispdb_provider(r, "https://example.test/x") for r in (
        _ispdb_entry(["m2.wild.test"], "pop.m2.wild.test"),
        _ispdb_entry(["tame.test", "m2.tame.test"], "pop.ispdb-tame.test"),
    ))
    return build_index(ours, imported)


def test_an_exact_domain_beats_a_parent_rule() -> None:
    index = _index()
    m2 = match_domain("m2.wild.test", index)
    assert m2 is not None and m2.provider.origin == ORIGIN_ISPDB and m2.parent is None
    deep = match_domain("x.deep.wild.test", index)  # nearest listed parent is deep.wild.test (no rule) ...
    assert deep is not None and deep.provider.id == "wild" and deep.parent == "wild.test"  # ... so wild.test's rule
    assert match_domain("deep.wild.test", index).provider.id == "tame"  # type: ignore[union-attr]


def test_our_exact_entry_beats_ispdbs_and_a_parent_applies_only_where_marked() -> None:
    index = _index()
    assert match_domain("tame.test", index).provider.id == "tame"  # type: ignore[union-attr]
    assert match_domain("m2.tame.test", index).provider.origin == ORIGIN_ISPDB  # type: ignore[union-attr]
    assert match_domain("m3.tame.test", index) is None  # tame.test has no sub-domain rule
    found = match_domain("a.b.wild.test", index)
    assert found is not None and found.provider.id == "wild" and found.parent == "wild.test"
    assert match_domain("notwild.test", index) is None and match_domain("test", index) is None


def test_a_subdomain_rule_needs_its_source() -> None:
    raw = tomllib.loads(_OURS)["provider"][0]
    del raw["subdomains_source"]
    with pytest.raises(ValueError, match="subdomains_source"):
        parse_provider(raw)
    raw["subdomains"] = "yes"
    with pytest.raises(ValueError, match="true or false"):
        parse_provider(raw)


def test_numbered_subdomains_in_the_bundled_data() -> None:
    """ISPDB lists CTY's m2..m9 sub-domains one by one; others are not guessed."""
    found = match_domain("m3.cty-net.ne.jp")
    assert found is not None and found.parent is None
    assert match_domain("m3.cty-net.ne.jp") != match_domain("zz.cty-net.ne.jp")
    if not any(p.subdomains for p in providers() if "cty-net.ne.jp" in p.domains):
        assert match_domain("zz.cty-net.ne.jp") is None


# --- lazy loading --------------------------------------------------------------------------------


def test_the_tables_load_on_the_first_lookup_not_at_import() -> None:
    code = ("import json, sys\n"
            "from pop3doctor.discovery import providers as p\n"
            "from pop3doctor.cli.entry import main\n"
            "before = (p._ispdb_raw.cache_info().currsize, p.providers.cache_info().currsize)\n"
            "from pop3doctor.discovery import parse_address\n"
            "p.lookup(parse_address('a@inbox.lv'))\n"
            "print(json.dumps([before, (p._ispdb_raw.cache_info().currsize, p.providers.cache_info().currsize)]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == [[0, 0], [1, 1]]


# --- (d) the CLI, no network source ---------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "pop3doctor", *args], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout


def _ispdb_only_domain(pop: bool) -> tuple[str, dict[str, Any]]:
    """A domain of the import that our table does not list (so ISPDB's answer is the one shown)."""
    for raw in DATA["providers"]:
        if raw["pop"] is pop:
            for domain in raw["domains"]:
                found = match_domain(domain)
                if found is not None and found.provider.origin == ORIGIN_ISPDB and "%" not in raw["name"]:
                    return domain, raw
    raise AssertionError("no ISPDB-only domain")


def test_discover_answers_an_ispdb_domain_with_nothing_looked_up_on_the_network() -> None:
    domain, raw = _ispdb_only_domain(True)
    with LocalDnsServer({}) as dns:  # every name lookup would land here; none must
        code, out = _cli("discover", f"someone@{domain}", "--json", "--lang", "en", "--dns-server", dns.nameserver,
                         "--ispdb-url", "", "--no-http", "--timeout", "2")
    assert code == 0, out
    assert dns.queries == []
    data = json.loads(out)
    chosen = data["chosen"]
    assert (chosen["host"], chosen["port"], Security(chosen["security"])) in _ispdb_servers(raw, domain)
    assert chosen["source"] == Source.PROVIDER.value and chosen["origin"] == ORIGIN_ISPDB
    assert f"thunderbird/autoconfig:{raw['file']}@{DATA['commit']}" in chosen["evidence"]
    assert UsernameForm(chosen["username_form"]) in tuple(UsernameForm)
    provider_source = data["sources"][0]
    assert provider_source["status"] == "answer" and DATA["commit"][:12] in provider_source["detail"][0]
    assert {s["status"] for s in data["sources"][1:]} == {"skipped"}


def test_discover_a_placeholder_host_and_an_imap_only_provider_with_the_provider_source_only() -> None:
    code, out = _cli("discover", "someone@inbox.lv", "--json", "--source", "provider")
    if match_domain("inbox.lv").provider.origin == ORIGIN_ISPDB:  # type: ignore[union-attr]
        assert code == 0 and json.loads(out)["chosen"]["host"] == "mail.inbox.lv"
    domain, raw = _ispdb_only_domain(False)
    code, out = _cli("discover", f"someone@{domain}", "--lang", "en", "--source", "provider")
    assert code == 2
    assert "does not offer POP3" in out and "only IMAP" in out
    assert raw["imap"][0]["host"] in out and DATA["commit"] in out


def test_a_plain_text_only_ispdb_provider_is_flagged_with_a_link_to_its_file() -> None:
    for raw in DATA["providers"]:
        if raw["pop"] and all(s["security"] == "plain" for s in raw["servers"]):
            domain = raw["domains"][0]
            found = match_domain(domain)
            if found is None or found.provider.origin != ORIGIN_ISPDB:
                continue
            [warning] = [w for w in lookup(parse_address(f"a@{domain}")).warnings if w.code == "plaintext-only"]
            assert warning.url == f"https://github.com/thunderbird/autoconfig/blob/{DATA['commit']}/{raw['file']}"
            return
    pytest.skip("no plain-text-only ISPDB entry at this commit")
