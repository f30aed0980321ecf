"""Sans-IO caps per command and compact listings (issue 12 item 6): bytes in, no sockets."""

from __future__ import annotations

import tracemalloc

import pytest

from pop3doctor.net.timeouts import Deadline
from pop3doctor.protocol import commands as cmd
from pop3doctor.protocol import events as ev
from pop3doctor.protocol.connection import ClientConnection, State
from pop3doctor.protocol.errors import LocalProtocolError, ProtocolError, ResponseTooLong
from pop3doctor.protocol.limits import BODY_LIMITS, MAX_CAPA, MAX_LISTING, MAX_TOP
from pop3doctor.protocol.listings import ListingParser, SizeListing, UidListing


def _logged_in(conn: ClientConnection | None = None) -> ClientConnection:
    conn = conn or ClientConnection()
    conn.receive_data(b"+OK ready\r\n")
    assert isinstance(conn.next_event(), ev.Greeting)
    conn.send(cmd.user("a"))
    conn.receive_data(b"+OK\r\n")
    conn.next_event()
    conn.send(cmd.pass_("b"))
    conn.receive_data(b"+OK\r\n")
    conn.next_event()
    assert conn.state is State.TRANSACTION
    return conn


def _drain_body(conn: ClientConnection, chunk: bytes, total: int) -> int:
    """Feed ``chunk`` repeatedly (``total`` octets at most) and consume events; returns octets fed."""
    fed = 0
    while fed < total:
        conn.receive_data(chunk)
        fed += len(chunk)
        while not isinstance(event := conn.next_event(), ev._NeedData):
            assert isinstance(event, ev.Data | ev.Response)
    return fed


def test_the_caps_are_what_the_issue_asks() -> None:
    assert MAX_TOP == 1024 * 1024 and MAX_CAPA == 64 * 1024 and MAX_LISTING == 64 * 1024 * 1024
    assert BODY_LIMITS["TOP"] == MAX_TOP and BODY_LIMITS["AUTH"] == MAX_CAPA
    assert BODY_LIMITS["LIST"] == BODY_LIMITS["UIDL"] == MAX_LISTING and "RETR" not in BODY_LIMITS


def test_endless_top_raises_response_too_long_near_the_cap() -> None:
    conn = _logged_in()
    conn.send(cmd.simple("TOP", 1, 0))
    conn.receive_data(b"+OK\r\n")
    with pytest.raises(ResponseTooLong) as info:
        _drain_body(conn, b"X-Header: " + b"x" * 1000 + b"\r\n", 10 * MAX_TOP)
    assert info.value.command == "TOP" and info.value.limit == MAX_TOP
    assert info.value.code == "response-too-long" and isinstance(info.value, ProtocolError)
    # The connection is out of step now: nothing more may be sent on it.
    assert conn.state is State.CLOSED
    with pytest.raises(LocalProtocolError):
        conn.send(cmd.simple("NOOP"))


def test_a_top_under_the_cap_is_whole() -> None:
    conn = _logged_in()
    conn.send(cmd.simple("TOP", 1, 0))
    header = b"Received: " + b"r" * 500 + b"\r\n"
    conn.receive_data(b"+OK\r\n" + header * 1500 + b".\r\n")  # ~770 KiB, a huge but real header
    got = b""
    while not isinstance(event := conn.next_event(), ev.EndOfData):
        if isinstance(event, ev.Data):
            got += event.data
    assert got == header * 1500


def test_endless_capa_is_cut_at_64_kib() -> None:
    conn = ClientConnection()
    conn.receive_data(b"+OK ready\r\n")
    conn.next_event()
    conn.send(cmd.simple("CAPA"))
    conn.receive_data(b"+OK\r\n")
    with pytest.raises(ResponseTooLong) as info:
        _drain_body(conn, b"X-CAP " + b"c" * 100 + b"\r\n", 10 * MAX_CAPA)
    assert info.value.command == "CAPA"


@pytest.mark.parametrize("verb", ["LIST", "UIDL"])
def test_listing_over_64_mib_is_refused(verb: str) -> None:
    conn = _logged_in()
    conn.send(cmd.simple(verb))
    conn.receive_data(b"+OK\r\n")
    with pytest.raises(ResponseTooLong) as info:
        _drain_body(conn, b"1 " + b"9" * 60 + b"\r\n" * 4096, 2 * MAX_LISTING)
    assert info.value.command == verb


def test_retr_has_no_cap_in_the_core() -> None:
    conn = _logged_in()
    conn.send(cmd.simple("RETR", 1))
    conn.receive_data(b"+OK\r\n")
    assert _drain_body(conn, b"y" * 1000 + b"\r\n", 3 * MAX_TOP) >= 3 * MAX_TOP  # no error


def test_caps_can_be_given_by_the_caller() -> None:
    conn = _logged_in(ClientConnection(body_limits={"RETR": 10}))
    conn.send(cmd.simple("RETR", 1))
    conn.receive_data(b"+OK\r\n")
    with pytest.raises(ResponseTooLong):
        _drain_body(conn, b"0123456789\r\n", 100)


# ---- listings -----------------------------------------------------------------------


def _parse(verb: str, body: bytes, chunk: int = 7) -> SizeListing | UidListing:
    parser = ListingParser.for_command(verb)
    for i in range(0, len(body), chunk):
        parser.feed(body[i : i + chunk])
    return parser.close()


def test_uid_listing_reads_like_the_dict_it_replaces() -> None:
    uids = _parse("UIDL", b"1 aaa\r\n2 bbb\r\n10 ccc\r\n")
    assert isinstance(uids, UidListing)
    assert dict(uids) == {1: "aaa", 2: "bbb", 10: "ccc"}
    assert uids[10] == "ccc" and uids.get(3) is None and 3 not in uids and len(uids) == 3
    assert list(uids.values()) == ["aaa", "bbb", "ccc"] and next(iter(uids.items())) == (1, "aaa")
    assert sorted(uids) == [1, 2, 10]


def test_size_listing_and_unsorted_repeated_numbers() -> None:
    sizes = _parse("LIST", b"3 30\r\n1 10\r\n3 33\r\n")
    assert isinstance(sizes, SizeListing)
    assert dict(sizes) == dict([(3, 30), (1, 10), (3, 33)]) == {3: 33, 1: 10}  # the last wins, as dict() did
    assert sizes[3] == 33 and len(sizes) == 2


def test_listing_lines_are_checked_as_before() -> None:
    with pytest.raises(ProtocolError):
        _parse("LIST", b"1 10\r\nnot a line\r\n")
    with pytest.raises(ProtocolError):
        _parse("UIDL", b"1 " + b"u" * 600 + b"\r\n")  # beyond MAX_UID
    with pytest.raises(ProtocolError):
        _parse("LIST", b"99999999999 10\r\n")  # a number no array of ours holds
    for bad in (b"+1 10\r\n", b"1_0 10\r\n", b"1 " + b"9" * 5000 + b"\r\n", b"\r\n"):
        with pytest.raises(ProtocolError):
            _parse("LIST", bad, chunk=4096)
    # Four words on two lines pair up as two "num size" lines only if lines are ignored:
    # the second line here has one word and is refused, as it is when fed line by line.
    for verb in ("LIST", "UIDL"):
        with pytest.raises(ProtocolError):
            _parse(verb, b"1 10 3\r\n4\r\n", chunk=4096)


def test_listing_lines_with_more_words_keep_their_first_two() -> None:
    # RFC 1939 s5 allows information after the size; such lines take the line-by-line path.
    sizes = _parse("LIST", b"1 10 extra info\r\n2 20\r\n", chunk=4096)
    assert dict(sizes) == {1: 10, 2: 20}
    uids = _parse("UIDL", b"1 a\n2 b\r\n3 c", chunk=4096)  # bare LF, no final CRLF
    assert dict(uids) == {1: "a", 2: "b", 3: "c"}


def test_a_large_uidl_listing_costs_about_its_size() -> None:
    # 790,000 lines of "n <32 hex>" (31 MiB): as a list of lines and then a dict
    # (before issue 12) the same listing cost about five times its size.
    lines = b"".join(b"%d %032x\r\n" % (n, n * 2654435761) for n in range(1, 790_001))
    wire = len(lines)
    tracemalloc.start()
    try:
        uids = _parse("UIDL", lines, chunk=256 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(uids) == 790_000 and uids[790_000] == "%032x" % (790_000 * 2654435761)
    assert peak < 1.5 * wire, f"peak {peak / 2**20:.0f} MiB for {wire / 2**20:.0f} MiB of listing"


# ---- the answer deadline --------------------------------------------------------------


def test_deadline_grants_the_window_then_the_floor() -> None:
    deadline = Deadline(window=5.0, floor=1000)
    assert 4.9 < deadline.remaining() <= 5.0
    deadline.add(2000)  # two seconds' worth at the floor
    assert 6.9 < deadline.remaining() <= 7.0
    drip = Deadline(window=0.0, floor=10 * 1024)
    drip.add(1)  # a byte: a tenth of a millisecond more
    assert drip.remaining() < 0.001
