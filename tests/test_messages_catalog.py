"""The message catalogs (pop3doctor/messages/*.toml): both languages, same placeholders, every name real.

`pop3doctor.i18n.catalog` refuses a broken file at load; these tests load every
file, check each entry independently, and scan the source for the names used:
every ``catalog.NAME`` read in src/ exists, and every entry is read somewhere.
"""

from __future__ import annotations

import ast
import copy
import fnmatch
import string
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from pop3doctor.i18n import Catalog, CatalogError, Msg, catalog, parse_catalog

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "pop3doctor"
AREAS = sorted(p.stem for p in (PACKAGE / "messages").glob("*.toml"))

#: What a catalog object offers besides its entries (lower case, so never an entry name).
_CATALOG_API = {"msg", "group", "entries", "groups", "area", "source"}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_there_are_catalogs() -> None:
    assert {"cli", "discovery", "sync", "web"} <= set(AREAS)


@pytest.mark.parametrize("area", AREAS)
def test_every_entry_has_both_texts_with_the_same_placeholders(area: str) -> None:
    loaded = catalog(area)
    messages = [(name, msg) for name, msg in loaded.entries.items()]
    messages += [(f"{g}.{key}", msg) for g, members in loaded.groups.items() for key, msg in members.items()]
    assert messages
    for name, msg in messages:
        assert isinstance(msg, Msg)
        assert msg.ja.strip() and msg.en.strip(), name
        assert _fields(msg.ja) == _fields(msg.en), name


@pytest.mark.parametrize("area", AREAS)
def test_the_file_is_exactly_entries_and_groups(area: str) -> None:
    raw = tomllib.loads((PACKAGE / "messages" / f"{area}.toml").read_text("utf-8"))
    loaded = catalog(area)
    assert set(raw) == set(loaded.entries) | set(loaded.groups)


def test_the_wheel_ships_every_catalog() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["pop3doctor"]
    for area in AREAS:
        assert any(fnmatch.fnmatch(f"messages/{area}.toml", g) for g in globs), area


# --- the loader's refusals ---------------------------------------------------------

_BROKEN = {
    "missing en": ('[HELLO]\nja = "こんにちは"\n', "[HELLO]: needs a non-empty en text"),
    "missing ja": ('[HELLO]\nen = "hello"\n', "[HELLO]: needs a non-empty ja text"),
    "empty text": ('[HELLO]\nja = ""\nen = "hello"\n', "[HELLO]: needs a non-empty ja text"),
    "not a string": ('[HELLO]\nja = 1\nen = "hello"\n', "[HELLO]: needs a non-empty ja text"),
    "other placeholders": (
        '[HELLO]\nja = "{name} さん"\nen = "hello {user}"\n',
        "[HELLO]: ja and en fill different placeholders (ja ['name'], en ['user'])",
    ),
    "a placeholder only in one": ('[HELLO]\nja = "こんにちは"\nen = "hello {user}"\n', "different placeholders"),
    "malformed placeholder": ('[HELLO]\nja = "{name"\nen = "{name"\n', "[HELLO]: malformed {placeholder}"),
    "unknown key": ('[HELLO]\nja = "a"\nen = "b"\nfr = "c"\n', "[HELLO]: unknown key(s) fr"),
    "lower-case name": ('[hello]\nja = "a"\nen = "b"\n', "[hello]: names are UPPER_CASE"),
    "not a table": ('HELLO = "hello"\n', "[HELLO]: must be a table"),
    "empty table": ("[HELLO]\n", "[HELLO]: empty table"),
    "group member without en": ('[LABELS.ssl]\nja = "a"\n', "[LABELS.ssl]: needs a non-empty en text"),
    "group member not a table": ('[LABELS]\nssl = "SSL"\n', "[LABELS.ssl]: must be a table"),
    "not TOML": ("[HELLO\n", "not valid TOML"),
}


@pytest.mark.parametrize("case", sorted(_BROKEN))
def test_a_broken_catalog_fails_naming_file_and_entry(case: str) -> None:
    text, expected = _BROKEN[case]
    with pytest.raises(CatalogError) as err:
        parse_catalog(text, area="demo", source="messages/demo.toml")
    assert str(err.value).startswith("messages/demo.toml: ")
    assert expected in str(err.value)


def test_a_missing_catalog_or_name_is_an_error() -> None:
    with pytest.raises(CatalogError, match=r"messages/nowhere\.toml: no such message catalog"):
        catalog("nowhere")
    with pytest.raises(CatalogError, match="not a catalog area name"):
        catalog("../knowledge/data/causes")
    with pytest.raises(AttributeError, match=r"'cli' \(messages/cli.toml\): NO_SUCH_NAME: no such message"):
        _ = catalog("cli").NO_SUCH_NAME
    with pytest.raises(AttributeError, match="UI: a group"):
        _ = catalog("web").UI
    with pytest.raises(KeyError, match="no group NO_SUCH_GROUP"):
        catalog("web").group("NO_SUCH_GROUP")


def test_catalogs_load_once_and_groups_are_read_only() -> None:
    assert catalog("cli") is catalog("cli")
    labels = catalog("discovery").group("SECURITY_NAMES")
    assert labels["plain"] == Msg("なし（平文）", "none (plain text)")
    with pytest.raises(TypeError):
        labels["plain"] = Msg("x", "y")  # type: ignore[index]


def test_a_catalog_copies() -> None:
    duplicate = copy.deepcopy(catalog("sync"))
    assert duplicate.entries == catalog("sync").entries


def test_a_delegating_module_reads_its_catalog() -> None:
    from pop3doctor.discovery import messages as m
    from pop3doctor.web.text import BUSY

    assert m.TITLE is catalog("discovery").TITLE
    assert m.TITLE("en", email="a@example.com") == "POP3 settings for a@example.com"
    assert BUSY is catalog("web").BUSY
    with pytest.raises(AttributeError, match="NO_SUCH_NAME"):
        _ = m.NO_SUCH_NAME


# --- every name used exists, every entry is used -----------------------------------


@dataclass
class _Module:
    name: str
    tree: ast.Module
    catalogs: dict[str, str]  # variable -> area, from `X = catalog("area")`
    defined: set[str]  # module-level names it binds itself
    delegates: bool  # has a module-level __getattr__


@dataclass
class _Uses:
    entries: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (area, NAME) -> places
    groups: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    odd: list[str] = field(default_factory=list)  # attribute reads that are neither

    def add(self, kind: dict[tuple[str, str], list[str]], area: str, name: str, where: str) -> None:
        kind.setdefault((area, name), []).append(where)


def _read_module(path: Path) -> _Module:
    tree = ast.parse(path.read_text("utf-8"))
    name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
    catalogs: dict[str, str] = {}
    defined: set[str] = set()
    delegates = False
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(stmt.name)  # a delegating module may hold helpers too (diagnosis.messages.fmt)
            delegates = delegates or stmt.name == "__getattr__"
            continue
        value: ast.expr | None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign):
            targets, value = [stmt.target], stmt.value
        else:
            continue
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            defined.add(target.id)
            delegates = delegates or target.id == "__getattr__"
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id == "catalog"
                and value.args
                and isinstance(value.args[0], ast.Constant)
                and isinstance(value.args[0].value, str)
            ):
                catalogs[target.id] = value.args[0].value
    return _Module(name, tree, catalogs, defined, delegates)


def _delegate_area(module: _Module) -> str | None:
    if module.delegates and len(set(module.catalogs.values())) == 1:
        return next(iter(module.catalogs.values()))
    return None


def _aliases(module: _Module, delegates: dict[str, _Module], uses: _Uses) -> dict[str, tuple[str, _Module | None]]:
    """Names in ``module`` that stand for a catalog: its own variables and imported delegate modules."""
    names: dict[str, tuple[str, _Module | None]] = {v: (a, None) for v, a in module.catalogs.items()}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in delegates and alias.asname:
                    names[alias.asname] = (_delegate_area(delegates[alias.name]) or "", delegates[alias.name])
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in delegates:  # from pkg import messages as m
                    names[alias.asname or alias.name] = (_delegate_area(delegates[full]) or "", delegates[full])
                elif node.module in delegates and alias.name not in delegates[node.module].defined:
                    area = _delegate_area(delegates[node.module]) or ""
                    uses.add(uses.entries, area, alias.name, f"{module.name}:{node.lineno}")
    return names


@cache
def _scan() -> _Uses:
    modules = [_read_module(p) for p in sorted(PACKAGE.rglob("*.py"))]
    delegates = {m.name: m for m in modules if _delegate_area(m)}
    uses = _Uses()
    for module in modules:
        names = _aliases(module, delegates, uses)
        for node in ast.walk(module.tree):
            if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names):
                continue
            area, via = names[node.value.id]
            where = f"{module.name}:{node.lineno}"
            if via is not None and node.attr in via.defined:
                continue  # a name the delegating module binds itself (a group, say)
            if node.attr.isupper():
                uses.add(uses.entries, area, node.attr, where)
            elif not (via is None and node.attr in _CATALOG_API):  # group("X") is counted below
                uses.odd.append(f"{where}: {node.value.id}.{node.attr}")
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "group"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in module.catalogs
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                area = module.catalogs[node.func.value.id]
                uses.add(uses.groups, area, node.args[0].value, f"{module.name}:{node.lineno}")
    return uses


def test_the_scan_finds_the_known_users() -> None:
    uses = _scan()
    assert ("discovery", "TITLE") in uses.entries  # via `from pop3doctor.discovery import messages as m`
    assert ("web", "BUSY") in uses.entries  # via `from pop3doctor.web.text import BUSY`
    assert ("cli", "FETCH_SUMMARY") in uses.entries  # via `_t = catalog("cli")`
    assert ("web", "UI") in uses.groups


def test_every_name_read_in_the_source_exists() -> None:
    uses = _scan()
    assert uses.odd == []
    missing = [
        f"{area}.{name} ({', '.join(places)})"
        for (area, name), places in sorted(uses.entries.items())
        if area not in AREAS or name not in catalog(area).entries
    ]
    missing += [
        f"{area} group {name} ({', '.join(places)})"
        for (area, name), places in sorted(uses.groups.items())
        if area not in AREAS or name not in catalog(area).groups
    ]
    assert missing == []


@pytest.mark.parametrize("area", AREAS)
def test_every_entry_is_used(area: str) -> None:
    uses = _scan()
    loaded: Catalog = catalog(area)
    unused = sorted(name for name in loaded.entries if (area, name) not in uses.entries)
    unused += sorted(f"group {name}" for name in loaded.groups if (area, name) not in uses.groups)
    assert unused == []
