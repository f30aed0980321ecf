"""A small, defensive XML reader for autoconfig files from the network.

Autoconfig XML comes from servers we do not control (a domain's web server,
or anyone who can answer for it over plain HTTP), so it is parsed as hostile:

- any DOCTYPE is refused, so no entity can be declared: this stops "billion
  laughs" expansion and external entities (file or network reads) outright,
  as defusedxml's ``forbid_dtd`` does;
- element depth and element count are capped (a valid config-v1.1 file is
  about 5 deep and a few hundred elements; the largest ISPDB file, mail.com,
  has ~250);
- the caller caps the byte size before parsing (see `autoconfig`).

It builds a minimal tree (tag, attributes, text, children) rather than an
ElementTree, because it only needs to read and it keeps the parser's hooks
in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.parsers import expat

MAX_DEPTH = 32
MAX_ELEMENTS = 10_000


class XmlRefused(ValueError):
    """The document is malformed, or uses something we refuse (DTD, entities, too deep)."""


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def find_all(self, tag: str) -> list[Node]:
        return [c for c in self.children if c.tag == tag]

    def find(self, tag: str) -> Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def child_text(self, tag: str) -> str | None:
        node = self.find(tag)
        return None if node is None else node.text.strip()


def parse(data: bytes) -> Node:
    """The root element of ``data``; raises `XmlRefused`."""
    parser = expat.ParserCreate()
    stack: list[Node] = []
    root: list[Node] = []
    count = 0

    def refuse_doctype(*_: object) -> None:
        raise XmlRefused("DOCTYPE/DTD is not allowed")

    def refuse_entity(*_: object) -> None:
        raise XmlRefused("entity declarations are not allowed")

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS:
            raise XmlRefused(f"more than {MAX_ELEMENTS} elements")
        if len(stack) >= MAX_DEPTH:
            raise XmlRefused(f"nested deeper than {MAX_DEPTH}")
        node = Node(tag, dict(attrs))
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(_tag: str) -> None:
        stack.pop()

    def chars(text: str) -> None:
        if stack:
            stack[-1].text += text

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = lambda *_: False  # never fetch anything
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise XmlRefused(f"malformed XML: {expat.errors.messages[exc.code]} (line {exc.lineno})") from None
    if not root:
        raise XmlRefused("no root element")
    return root[0]
