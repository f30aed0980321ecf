"""The sans-IO core: events for bytes, pipelining rules, limits, injection refusal."""

from __future__ import annotations

import base64
import multiprocessing
import multiprocessing.queues

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from pop3doctor.protocol import (
    NEED_DATA,
    Capabilities,
    ClientConnection,
    Closed,
    Continuation,
    Data,
    EndOfData,
    Greeting,
    LineTooLong,
    LocalProtocolError,
    ProtocolError,
    RemoteClosed,
    Response,
    ServerNotice,
    StartTlsInjection,
    State,
)
from pop3doctor.protocol import commands as cmd
from pop3doctor.protocol.body import BodyDecoder, stuff
from pop3doctor.protocol.capabilities import LineSplitter, parse_stat_text, parse_uidl_line
from pop3doctor.protocol.sasl import CramMd5, OAuthBearer, Plain, XOAuth2, apop_digest


def drain(conn: ClientConnection) -> list[object]:
    events: list[object] = []
    while True:
        try:
            ev = conn.next_event()
        except LocalProtocolError:
            raise  # our misuse is a test failure, never an expected peer error
        except ProtocolError as exc:
            events.append(exc)
            return events
        if ev is NEED_DATA or isinstance(ev, Closed):
            if isinstance(ev, Closed):
                events.append(ev)
            return events
        events.append(ev)


def logged_in(pipelining: bool = True) -> ClientConnection:
    conn = ClientConnection()
    conn.receive_data(b"+OK ready\r\n")
    assert isinstance(conn.next_event(), Greeting)
    conn.send(cmd.user("alice"))
    conn.receive_data(b"+OK\r\n")
    conn.next_event()
    conn.send(cmd.pass_("secret"))
    conn.receive_data(b"+OK logged in\r\n")
    conn.next_event()
    assert conn.state is State.TRANSACTION
    conn.pipelining = pipelining
    return conn


def body_of(events: list[object]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, Data))


def test_greeting_with_apop_timestamp() -> None:
    conn = ClientConnection()
    conn.receive_data(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n")
    ev = conn.next_event()
    assert isinstance(ev, Greeting)
    assert ev.apop_timestamp == "<1896.697170952@dbc.mtview.ca.us>"
    assert conn.state is State.AUTHORIZATION


def test_rfc1939_apop_example_digest() -> None:
    # The example in RFC 1939 section 7.
    assert apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf") == "c4c9334bac560ecc979e58001b3e22fb"


def test_non_pop3_banner_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.receive_data(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n")
    with pytest.raises(ProtocolError, match="not a POP3 greeting"):
        conn.next_event()


def test_err_greeting_closes_session() -> None:
    conn = ClientConnection()
    conn.receive_data(b"-ERR [SYS/TEMP] Too many connections\r\n")
    ev = conn.next_event()
    assert isinstance(ev, Greeting) and not ev.status.ok
    assert str(ev.status.code) == "SYS/TEMP"
    assert conn.state is State.CLOSED


def test_pipelined_retr_bodies_are_unstuffed_and_in_order() -> None:
    conn = logged_in()
    conn.send(cmd.simple("RETR", 1))
    conn.send(cmd.simple("RETR", 2))
    conn.receive_data(b"+OK 9 octets\r\n..dot\r\nx\r\n.\r\n+OK\r\nsecond\r\n.\r\n")
    events = drain(conn)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Response", "Data", "EndOfData", "Response", "Data", "EndOfData"]
    assert events[1].data == b".dot\r\nx\r\n"
    assert events[4].data == b"second\r\n"
    assert events[3].command.args == ("2",)


def test_barrier_commands_are_never_pipelined() -> None:
    conn = ClientConnection()
    conn.receive_data(b"+OK\r\n")
    conn.next_event()
    conn.pipelining = True
    conn.send(cmd.simple("CAPA"))
    assert not conn.can_send(cmd.user("a"))
    with pytest.raises(LocalProtocolError):
        conn.send(cmd.user("a"))
    conn.receive_data(b"+OK\r\n.\r\n")
    drain(conn)
    conn.send(cmd.user("a"))
    assert not conn.can_send(cmd.simple("CAPA"))


def test_without_pipelining_one_command_at_a_time() -> None:
    conn = logged_in(pipelining=False)
    conn.send(cmd.simple("STAT"))
    with pytest.raises(LocalProtocolError):
        conn.send(cmd.simple("NOOP"))


@pytest.mark.parametrize("bad", ["a\r\nDELE 1", "a\nb", "a\0b"])
def test_arguments_with_crlf_or_nul_are_refused(bad: str) -> None:
    with pytest.raises(LocalProtocolError, match="inject"):
        cmd.user(bad)


def test_command_line_limit() -> None:
    with pytest.raises(LocalProtocolError, match="255"):
        cmd.user("x" * 300).encode()


def test_transaction_commands_refused_before_login() -> None:
    conn = ClientConnection()
    conn.receive_data(b"+OK\r\n")
    conn.next_event()
    with pytest.raises(LocalProtocolError, match="after login"):
        conn.send(cmd.simple("RETR", 1))


def test_redaction() -> None:
    assert cmd.pass_("hunter2").redacted() == "PASS ********"
    assert "digest" not in cmd.apop("u", "digest").redacted()
    assert "SECRET" not in cmd.auth("PLAIN", "SECRET").redacted()


def test_status_line_limit() -> None:
    conn = ClientConnection()
    conn.receive_data(b"+OK " + b"x" * 9000)
    with pytest.raises(LineTooLong):
        conn.next_event()


def test_stls_response_followed_by_injected_bytes_is_refused() -> None:
    conn = ClientConnection()
    conn.receive_data(b"+OK\r\n")
    conn.next_event()
    conn.send(cmd.simple("STLS"))
    conn.receive_data(b"+OK Begin TLS\r\n+OK injected\r\n")
    with pytest.raises(StartTlsInjection) as refused:
        conn.next_event()
    # Its own error (and cause), not a generic protocol error; the injected bytes kept as evidence.
    assert refused.value.code == "starttls-injection"
    assert refused.value.injected == b"+OK injected\r\n"


def test_stls_requires_tls_before_next_command() -> None:
    conn = ClientConnection()
    conn.receive_data(b"+OK\r\n")
    conn.next_event()
    conn.send(cmd.simple("STLS"))
    conn.receive_data(b"+OK Begin TLS\r\n")
    assert isinstance(conn.next_event(), Response)
    with pytest.raises(LocalProtocolError):
        conn.send(cmd.simple("CAPA"))
    conn.tls_started()
    conn.send(cmd.simple("CAPA"))


def test_sasl_continuation_and_cancel() -> None:
    conn = ClientConnection()
    conn.receive_data(b"+OK\r\n")
    conn.next_event()
    conn.send(cmd.auth("CRAM-MD5"))
    challenge = b"<1896.697170952@postoffice.reston.mci.net>"
    conn.receive_data(b"+ " + base64.b64encode(challenge) + b"\r\n")
    ev = conn.next_event()
    assert isinstance(ev, Continuation) and ev.challenge == challenge
    # RFC 2195's example response.
    answer = CramMd5("tim", "tanstaaftanstaaf").respond(challenge)
    assert answer == b"tim b913a602c7eda7a495b4e6e7334d3890"
    assert conn.send_sasl_response(None) == b"*\r\n"


def test_sasl_initial_responses() -> None:
    assert Plain("u", "p").initial_response() == b"\0u\0p"
    assert XOAuth2("u@x", "tok").initial_response() == b"user=u@x\x01auth=Bearer tok\x01\x01"
    assert OAuthBearer("u@x", "tok").initial_response().startswith(b"n,a=u@x,")
    assert XOAuth2("u", "t").respond(b'{"status":"401"}') == b""


def test_unsolicited_err_is_a_notice_then_close() -> None:
    conn = logged_in()
    conn.receive_data(b"-ERR Disconnected for inactivity.\r\n")
    conn.receive_data(b"")
    events = drain(conn)
    assert isinstance(events[0], ServerNotice)
    assert isinstance(events[1], Closed)


def test_drop_mid_body_raises_remote_closed_in_body() -> None:
    conn = logged_in()
    conn.send(cmd.simple("RETR", 1))
    conn.receive_data(b"+OK\r\nhalf of a mess")
    conn.receive_data(b"")
    events = drain(conn)
    assert isinstance(events[-1], RemoteClosed)
    assert events[-1].in_body and events[-1].during == "RETR"
    assert body_of(events) == b"half of a mess"


def test_drop_before_greeting() -> None:
    conn = ClientConnection()
    conn.receive_data(b"")
    with pytest.raises(RemoteClosed) as info:
        conn.next_event()
    assert info.value.during == "greeting"


def test_capabilities_parse() -> None:
    caps = Capabilities.parse([b"TOP", b"SASL PLAIN login", b"LOGIN-DELAY 900", b"EXPIRE NEVER", b"PIPELINING"])
    assert caps.sasl == ("PLAIN", "LOGIN")
    assert caps.login_delay == 900 and caps.expire == "NEVER" and caps.pipelining and not caps.stls


@pytest.mark.parametrize("text", ["\u00b2 10", "3 \u00b9\u00b2", "\u0663 10"])
def test_stat_with_non_ascii_digits_is_a_protocol_error(text: str) -> None:
    # "²".isdigit() is true but int("²") raises ValueError: a hostile STAT must
    # still end as the peer's protocol error, which the diagnosis reports.
    with pytest.raises(ProtocolError):
        parse_stat_text(text)


def test_login_delay_with_non_ascii_digits_is_ignored() -> None:
    assert Capabilities.parse(["LOGIN-DELAY \u00b2".encode()]).login_delay is None


def test_line_splitter_and_uidl() -> None:
    sp = LineSplitter()
    lines = list(sp.feed(b"1 whq"))
    lines += list(sp.feed(b"tswO\r\n2 QhdPYR:00WBw1Ph7x7\r\n"))
    assert [parse_uidl_line(x) for x in lines] == [(1, "whqtswO"), (2, "QhdPYR:00WBw1Ph7x7")]


def test_long_body_line_streams_without_limit() -> None:
    conn = logged_in()
    conn.send(cmd.simple("RETR", 1))
    conn.receive_data(b"+OK\r\n")
    drain(conn)
    total = 0
    for _ in range(200):  # 200 x 64 KiB = 12.5 MiB in one line: far beyond MAX_LINE
        conn.receive_data(b"A" * 65536)
        total += len(body_of(drain(conn)))
    conn.receive_data(b"\r\n.\r\n")
    events = drain(conn)
    total += len(body_of(events))
    assert isinstance(events[-1], EndOfData)
    assert total == 200 * 65536 + 2


# ---- properties -----------------------------------------------------------------

lines_st = st.lists(
    st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")), max_size=30
)


def message_from(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\r\n" for line in lines)


def events_for(wire: bytes, cuts: list[int]) -> list[tuple[str, bytes]]:
    """Feed ``wire`` split at ``cuts`` and normalise the events (data merged)."""
    conn = logged_in()
    conn.send(cmd.simple("RETR", 1))
    conn.send(cmd.simple("NOOP"))
    out: list[tuple[str, bytes]] = []
    pieces = []
    prev = 0
    for c in sorted(set(cuts)):
        pieces.append(wire[prev:c])
        prev = c
    pieces.append(wire[prev:])
    for piece in pieces:
        if piece:
            conn.receive_data(piece)
        for ev in drain(conn):
            if isinstance(ev, Data):
                if out and out[-1][0] == "data":
                    out[-1] = ("data", out[-1][1] + ev.data)
                else:
                    out.append(("data", ev.data))
            elif isinstance(ev, Response):
                out.append(("response", ev.raw))
            elif isinstance(ev, EndOfData):
                out.append(("end", b""))
            else:
                raise AssertionError(ev)
    return out


@given(lines_st, st.lists(st.integers(min_value=0, max_value=2000), max_size=20))
@settings(max_examples=300)
def test_any_chunking_gives_the_same_events(lines: list[bytes], cuts: list[int]) -> None:
    message = message_from(lines)
    wire = b"+OK\r\n" + stuff(message) + b"+OK noop\r\n"
    whole = events_for(wire, [])
    assert events_for(wire, [c % (len(wire) + 1) for c in cuts]) == whole
    assert whole[1] == ("data", message) if message else whole[1] == ("end", b"")


@given(lines_st)
def test_stuff_unstuff_round_trip(lines: list[bytes]) -> None:
    message = message_from(lines)
    decoder = BodyDecoder()
    data, consumed, finished = decoder.decode(stuff(message))
    assert finished and data == message and consumed == len(stuff(message))


def _fuzz_one(data: bytes, cuts: list[int]) -> None:
    conn = ClientConnection()
    prev = 0
    sent = False
    for c in [*sorted(set(cuts)), len(data)]:
        c = min(c, len(data))
        piece = data[prev:c]
        prev = c
        if piece:
            conn.receive_data(piece)
        while True:
            try:
                ev = conn.next_event()
            except LocalProtocolError:
                raise  # a LocalProtocolError is a ProtocolError, but never the peer's doing
            except ProtocolError:
                return  # the only exception a peer may cause
            if ev is NEED_DATA or isinstance(ev, Closed):
                break
            if conn.state is State.TRANSACTION or (not sent and conn.state is State.AUTHORIZATION):
                if conn.can_send(cmd.simple("CAPA")) and conn.state is State.AUTHORIZATION:
                    conn.send(cmd.simple("CAPA"))
                    sent = True
    conn.receive_data(b"")
    try:
        while not isinstance(conn.next_event(), (Closed, type(NEED_DATA))):
            pass
    except LocalProtocolError:
        raise
    except ProtocolError:
        pass


fuzz_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from(
            [b"+OK", b"-ERR", b"+ ", b"[IN-USE]", b".", b"..", b"\r\n", b"\n", b"\r", b"x", b"+OK [SYS/TEMP] t"]
        ),
        max_size=40,
    ).map(b"".join),
)


@given(fuzz_bytes, st.lists(st.integers(0, 300), max_size=6))
@settings(max_examples=500)
def test_arbitrary_bytes_give_events_or_protocol_error(data: bytes, cuts: list[int]) -> None:
    _fuzz_one(data, cuts)


FUZZ_EXAMPLES = 100_000
FUZZ_WORKERS = 2  # the suite runs serially; this test alone can use the second core


def _fuzz_worker(worker: int, examples: int, failures: multiprocessing.queues.Queue[str]) -> None:
    """One share of the long run in a forked child, with its own seed so the shares differ."""

    @seed(20_240_000 + worker)
    @given(fuzz_bytes, st.lists(st.integers(0, 300), max_size=6))
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(data: bytes, cuts: list[int]) -> None:
        _fuzz_one(data, cuts)

    try:
        run()
    except BaseException as exc:  # reported to the parent, which fails the test with it
        failures.put(f"worker {worker}: {type(exc).__name__}: {exc}")
        raise SystemExit(1) from None


@pytest.mark.slow
# 100k examples: hypothesis's own work per example (~0.7 ms) dwarfs the parser's, so
# the run is split over two forked processes (50k each, different seeds). It took
# 130-230 s alone on one core; the 900 s limit is for hangs, not for this long run.
@pytest.mark.timeout(900)
def test_arbitrary_bytes_fuzz_100k() -> None:
    ctx = multiprocessing.get_context("fork")
    failures = ctx.Queue()
    share = FUZZ_EXAMPLES // FUZZ_WORKERS
    workers = [ctx.Process(target=_fuzz_worker, args=(i, share, failures)) for i in range(FUZZ_WORKERS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    reported = []
    while not failures.empty():
        reported.append(failures.get())
    assert not reported, "\n".join(reported)
    assert [w.exitcode for w in workers] == [0] * FUZZ_WORKERS
