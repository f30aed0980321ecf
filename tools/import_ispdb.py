#!/usr/bin/env python3
"""Import Thunderbird's ISPDB (github.com/thunderbird/autoconfig) into pop3doctor's bundled data.

    python tools/import_ispdb.py GITDIR [--commit C] [--out PATH]

(with the project's environment, e.g. ``.venv/bin/python``: it imports pop3doctor.)

GITDIR is a git directory (bare or a work tree's ``.git``) holding the
thunderbird/autoconfig repository; every ``ispdb/*.xml`` file of commit C
(default HEAD) is read with ``git cat-file`` -- nothing from a work tree, so
the result depends on the commit alone.  Each file is parsed by
`pop3doctor.discovery.xmlsafe` (no DTD, no entities, bounded depth and size),
the same reader the autoconfig source uses for files from the network.

For every ``emailProvider`` it records the domains (exactly as listed; the
lookup never extends them to sub-domains), the display name, documentation
URLs, every POP3 ``incomingServer`` (host name -- placeholders such as
``%EMAILDOMAIN%`` kept and filled in at lookup --, port, socket type as our
security ``ssl``/``starttls``/``plain``, user-name form, authentication
methods) and, for a provider listing IMAP but no POP3, that ISPDB offers no
POP there and which IMAP servers to use instead.  Each provider carries its
source, ``thunderbird/autoconfig:ispdb/<file>@<commit>``.

The output (default ``src/pop3doctor/knowledge/data/ispdb_pop3.json``) is
deterministic: providers sorted by file, keys sorted, fixed indentation,
so running the importer again on the same commit reproduces it byte for byte.
It records the commit, counts, files it could not use (and why), and
``content_sha256``, a SHA-256 over the canonical JSON of ``providers``
(see `content_hash`), which the test suite checks without the ISPDB at hand.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pop3doctor.discovery.address import is_hostname
from pop3doctor.discovery.xmlsafe import Node, XmlRefused, parse

SCHEMA = "pop3doctor.ispdb-import/1"
REPOSITORY = "thunderbird/autoconfig"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src/pop3doctor/knowledge/data/ispdb_pop3.json"
#: The largest ISPDB file is about 10 KB; anything far bigger is not a config file.
MAX_FILE_BYTES = 256 * 1024

_SECURITY = {"ssl": "ssl", "starttls": "starttls", "plain": "plain"}
_PLACEHOLDERS = ("%EMAILADDRESS%", "%EMAILLOCALPART%", "%EMAILDOMAIN%")
_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in _PLACEHOLDERS))


class ImportFailed(Exception):
    """The git directory or commit cannot be read."""


@dataclass(frozen=True)
class GitFile:
    path: str
    data: bytes


def _git(gitdir: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(  # noqa: S603 - fixed git argv, no shell
            ["git", f"--git-dir={gitdir}", *args],  # noqa: S607 - git from PATH, as a developer runs it
            input=stdin,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ImportFailed("git is not installed") from exc
    if done.returncode != 0:
        raise ImportFailed(f"git {' '.join(args[:2])}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def resolve_commit(gitdir: Path, commit: str) -> tuple[str, str]:
    """The full hash and committer date (ISO 8601) of ``commit``."""
    sha = _git(gitdir, "rev-parse", "--verify", "--end-of-options", f"{commit}^{{commit}}").decode().strip()
    date = _git(gitdir, "show", "-s", "--format=%cI", sha).decode().strip()
    return sha, date


def read_ispdb(gitdir: Path, commit: str) -> list[GitFile]:
    """Every blob under ``ispdb/`` at ``commit`` whose name ends in ``.xml``, sorted by path."""
    listing = _git(gitdir, "ls-tree", "-r", "-z", "--full-tree", commit, "--", "ispdb/")
    entries: list[tuple[str, str]] = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        _mode, kind, sha = meta.decode().split()
        name = path.decode("utf-8", errors="replace")
        if kind == "blob" and name.endswith(".xml"):
            entries.append((name, sha))
    entries.sort()
    if not entries:
        return []
    batch = _git(gitdir, "cat-file", "--batch", stdin="".join(f"{sha}\n" for _, sha in entries).encode())
    files: list[GitFile] = []
    pos = 0
    for name, sha in entries:
        header_end = batch.index(b"\n", pos)
        got_sha, _kind, size_text = batch[pos:header_end].decode().split()
        if got_sha != sha:
            raise ImportFailed(f"git cat-file answered {got_sha} for {sha}")
        size = int(size_text)
        start = header_end + 1
        files.append(GitFile(name, batch[start : start + size]))
        pos = start + size + 1  # the blob is followed by a newline
    return files


def _fill_sample(template: str) -> str:
    """``template`` with its placeholders replaced by a sample value (for validation only)."""
    return _PLACEHOLDER_RE.sub(lambda m: "example.com" if m.group() == "%EMAILDOMAIN%" else "x", template)


def username_form(template: str) -> str:
    """Our `UsernameForm` value for an ISPDB ``<username>`` template.

    ``%EMAILADDRESS%`` -> address, ``%EMAILLOCALPART%`` -> local-part; a
    template built from placeholders (IIJ's ``%EMAILLOCALPART%.%EMAILDOMAIN%``)
    -> literal, filled in at lookup exactly as the autoconfig source fills it;
    a fixed text without placeholders cannot be this user's name -> account-id.
    """
    if template == "%EMAILADDRESS%":
        return "address"
    if template == "%EMAILLOCALPART%":
        return "local-part"
    if _PLACEHOLDER_RE.search(template):
        return "literal"
    return "account-id"


def _lower_outside_placeholders(text: str) -> str:
    """``text`` lower-cased, except its placeholders (``mail.%EMAILDOMAIN%`` stays a template)."""
    parts = _PLACEHOLDER_RE.split(text)
    found = _PLACEHOLDER_RE.findall(text)
    return "".join(part.lower() + (found[i] if i < len(found) else "") for i, part in enumerate(parts))


def _server(node: Node) -> dict[str, Any]:
    """One incomingServer as data; raises ValueError when it cannot be used."""
    host = _lower_outside_placeholders(node.child_text("hostname") or "")
    if not host or not is_hostname(_fill_sample(host)):
        raise ValueError(f"host name {host[:80]!r}")
    port_text = node.child_text("port") or ""
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"port {port_text[:20]!r}")
    socket_type = (node.child_text("socketType") or "").lower()
    if socket_type not in _SECURITY:
        raise ValueError(f"socketType {socket_type[:20]!r}")
    template = node.child_text("username") or "%EMAILADDRESS%"
    auth = [a.text.strip() for a in node.find_all("authentication") if a.text.strip()]
    return {
        "host": host,
        "port": int(port_text),
        "security": _SECURITY[socket_type],
        "username": username_form(template),
        "username_template": template,
        "auth": auth,
    }


def _documentation(provider: Node) -> list[str]:
    urls: list[str] = []
    for doc in provider.find_all("documentation"):
        url = doc.attrs.get("url", "").strip()
        if url.startswith(("https://", "http://")) and " " not in url and url not in urls:
            urls.append(url)
    return urls


def _enable(provider: Node) -> list[dict[str, Any]]:
    """``<enable visiturl>`` blocks: the user must switch something on at the provider first."""
    found: list[dict[str, Any]] = []
    for enable in provider.find_all("enable"):
        url = enable.attrs.get("visiturl", "").strip()
        instructions = {
            i.attrs.get("lang", "en"): " ".join(i.text.split())
            for i in enable.find_all("instruction")
            if i.text.strip()
        }
        found.append({"url": url if url.startswith(("https://", "http://")) else None, "instruction": instructions})
    return found


def import_file(file: GitFile, commit: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Providers found in one file, and notes about what was left out of it."""
    source = f"{REPOSITORY}:{file.path}@{commit}"
    notes: list[dict[str, str]] = []
    if len(file.data) > MAX_FILE_BYTES:
        return [], [{"file": file.path, "reason": f"larger than {MAX_FILE_BYTES} bytes"}]
    try:
        root = parse(file.data)
    except XmlRefused as exc:
        return [], [{"file": file.path, "reason": str(exc)}]
    if root.tag != "clientConfig":
        return [], [{"file": file.path, "reason": f"root element is <{root.tag[:40]}>, not <clientConfig>"}]
    providers: list[dict[str, Any]] = []
    for index, node in enumerate(root.find_all("emailProvider")):
        domains: list[str] = []
        for d in node.find_all("domain"):
            domain = d.text.strip().lower().rstrip(".")
            try:
                domain = domain.encode("idna").decode("ascii")
            except UnicodeError:
                notes.append({"file": file.path, "reason": f"domain {domain[:80]!r} is not a valid name"})
                continue
            if not is_hostname(domain) or "." not in domain:
                notes.append({"file": file.path, "reason": f"domain {domain[:80]!r} is not a valid name"})
            elif domain not in domains:
                domains.append(domain)
        pop3: list[dict[str, Any]] = []
        imap: list[dict[str, Any]] = []
        for server in node.find_all("incomingServer"):
            kind = server.attrs.get("type", "")
            if kind not in ("pop3", "imap"):
                continue
            try:
                entry = _server(server)
            except ValueError as exc:
                notes.append({"file": file.path, "reason": f"{kind} server skipped: {exc}"})
                continue
            target = pop3 if kind == "pop3" else imap
            if all((s["host"], s["port"], s["security"]) != (entry["host"], entry["port"], entry["security"])
                   for s in target):
                target.append(entry)
        if not domains:
            notes.append({"file": file.path, "reason": "an emailProvider without a usable domain"})
            continue
        if not pop3 and not imap:
            notes.append({"file": file.path, "reason": "no POP3 or IMAP server (nothing to say about POP)"})
            continue
        provider: dict[str, Any] = {
            "id": node.attrs.get("id", "").strip()[:100] or file.path.removeprefix("ispdb/").removesuffix(".xml"),
            "file": file.path,
            "index": index,
            "name": " ".join((node.child_text("displayName") or node.attrs.get("id", "")).split())[:100],
            "domains": sorted(domains),
            "documentation": _documentation(node),
            "pop": bool(pop3),
            "servers": pop3,
            "source": source,
        }
        if not pop3:
            provider["imap"] = imap
        enable = _enable(node)
        if enable:
            provider["enable"] = enable
        providers.append(provider)
    return providers, notes


def content_hash(providers: list[dict[str, Any]]) -> str:
    """SHA-256 of ``providers`` as canonical JSON (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(providers, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def build(gitdir: Path, commit: str = "HEAD") -> dict[str, Any]:
    """The whole data file as a dict (see the module docstring)."""
    sha, date = resolve_commit(gitdir, commit)
    files = read_ispdb(gitdir, sha)
    providers: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    for file in files:
        found, notes = import_file(file, sha)
        skipped += notes
        for provider in found:
            kept = []
            for domain in provider["domains"]:
                if domain in seen:
                    skipped.append({"file": file.path, "reason": f"domain {domain} already listed by {seen[domain]}"})
                else:
                    seen[domain] = file.path
                    kept.append(domain)
            if kept:
                provider["domains"] = kept
                providers.append(provider)
    pop_providers = [p for p in providers if p["pop"]]
    counts = {
        "files": len(files),
        "providers": len(providers),
        "domains": sum(len(p["domains"]) for p in providers),
        "pop3_providers": len(pop_providers),
        "pop3_domains": sum(len(p["domains"]) for p in pop_providers),
        "pop3_servers": sum(len(p["servers"]) for p in pop_providers),
        "imap_only_providers": len(providers) - len(pop_providers),
        "imap_only_domains": sum(len(p["domains"]) for p in providers if not p["pop"]),
        "skipped": len(skipped),
    }
    return {
        "schema": SCHEMA,
        "note": "Generated by tools/import_ispdb.py from Thunderbird's ISPDB; re-run it, do not edit by hand.",
        "repository": REPOSITORY,
        "commit": sha,
        "commit_date": date,
        "counts": counts,
        "content_sha256": content_hash(providers),
        "skipped": skipped,
        "providers": providers,
    }


def render(data: dict[str, Any]) -> str:
    """The file's exact text: sorted keys, one-space indentation, UTF-8 as is, final newline."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("gitdir", type=Path, help="git directory of thunderbird/autoconfig (bare, or .git)")
    parser.add_argument("--commit", default="HEAD", help="commit to read (default: HEAD)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        data = build(args.gitdir, args.commit)
    except ImportFailed as exc:
        print(f"import_ispdb: {exc}", file=sys.stderr)
        return 1
    args.out.write_bytes(render(data).encode("utf-8"))
    counts = data["counts"]
    print(
        f"{args.out}: commit {data['commit'][:12]} ({data['commit_date']}), "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
