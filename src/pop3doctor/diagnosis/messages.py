"""The diagnosis's own texts, in both languages.

Titles for stages that pass or are skipped (failures take theirs from the cause
catalogue), and the notes of this run's evidence a failure's explanation gets
("other ports of the same server answered").  `fmt` and `join` build the
notes: plain ``str.format`` fields, a `Msg` value filled in its own language.
"""

from __future__ import annotations

from collections.abc import Sequence

from pop3doctor.i18n import Msg, catalog

_catalog = catalog("diagnosis")
#: ``NAME`` here is the entry NAME of messages/diagnosis.toml (AttributeError when there is none).
__getattr__ = _catalog.msg


def fmt(msg: Msg, **values: object) -> Msg:
    """``msg`` with ``values`` filled in; a `Msg` value is filled in its own language in each text."""
    ja = {k: v.ja if isinstance(v, Msg) else v for k, v in values.items()}
    en = {k: v.en if isinstance(v, Msg) else v for k, v in values.items()}
    return Msg(msg.ja.format(**ja), msg.en.format(**en))


def join(msgs: Sequence[Msg]) -> Msg:
    """Sentences one after the other, per language."""
    return Msg(" ".join(x.ja for x in msgs), " ".join(x.en for x in msgs))
