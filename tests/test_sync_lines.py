"""CRLF -> LF and mboxrd quoting, streamed in arbitrary chunks."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pop3doctor.sync.lines import MAX_HELD, LineConverter, convert_all


def _reference(data: bytes, mboxrd: bool) -> bytes:
    out = data.replace(b"\r\n", b"\n")
    if mboxrd:
        out = re.sub(rb"(?m)^(>*From )", rb">\1", out)
    return out


def _unquote_mboxrd(data: bytes) -> bytes:
    return re.sub(rb"(?m)^>(>*From )", rb"\1", data)


_lines = st.lists(
    st.sampled_from([b"From x", b">From y", b">>From z", b"From", b"Fro", b"m ", b"\r", b"\n", b"\r\n", b"a", b" "]),
    max_size=60,
).map(b"".join)


@settings(max_examples=300)
@given(data=_lines, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8), mboxrd=st.booleans())
def test_chunking_does_not_change_the_result(data: bytes, cuts: list[int], mboxrd: bool) -> None:
    conv = LineConverter(mboxrd=mboxrd)
    out = b""
    start = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        out += conv.feed(data[start:cut])
        start = cut
    out += conv.feed(data[start:]) + conv.finish()
    assert out == _reference(data, mboxrd)


@settings(max_examples=200)
@given(data=_lines)
def test_mboxrd_quoting_is_reversible(data: bytes) -> None:
    lf = data.replace(b"\r\n", b"\n")
    assert _unquote_mboxrd(convert_all(data, mboxrd=True)) == lf


def test_crlf_split_across_chunks_becomes_one_lf() -> None:
    conv = LineConverter()
    assert conv.feed(b"abc\r") == b""
    assert conv.feed(b"\ndef\r\n") == b"abc\ndef\n"
    assert conv.finish() == b""


def test_long_line_is_passed_on_and_memory_stays_bounded() -> None:
    conv = LineConverter(mboxrd=True)
    out = conv.feed(b"From " + b"x" * (MAX_HELD + 10))
    assert out.startswith(b">From ")  # the line start was decided before the cut
    assert conv.feed(b"From mid-line\r") == b""  # held: no line end yet
    # The held text continues the long line, so its "From " is not quoted.
    assert conv.finish() == b"From mid-line\r"


def test_ensure_newline_for_mbox() -> None:
    assert convert_all(b"no newline", ensure_newline=True) == b"no newline\n"
    assert convert_all(b"ends\r\n", ensure_newline=True) == b"ends\n"
    assert convert_all(b"", ensure_newline=True) == b"\n"
