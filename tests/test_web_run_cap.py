"""The web page's server-wide bound on running checks (issue 12, item 12).

Every page load could start a diagnosis, with no cap: 1,000 loads were 1,000
concurrent runs and ~1,200 open fds.  Now at most `MAX_ACTIVE_RUNS` run at
once, further starts get 503 with Retry-After and a ja/en message, and a run
whose page went away is stopped, which frees its slot.  Real uvicorn on
loopback, diagnosing a real (silent) POP3 port that counts its connections.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from pop3doctor.web import RunOptions, create_app
from pop3doctor.web.runs import MAX_ACTIVE_RUNS
from pop3doctor.web.server import serve_in_thread
from support.silent_pop3 import SilentPop3Server
from test_web_server import TIMEOUT, new_page, read_events

LOADS = 12


def _form(tokens: dict[str, str], server: SilentPop3Server) -> dict[str, str]:
    return {**tokens, "email": "a@example.jp", "password": "pw", "host": server.host, "port": str(server.port),
            "security": "plain"}


def test_concurrent_page_loads_beyond_the_cap_get_503() -> None:
    with SilentPop3Server() as pop3, serve_in_thread(create_app(RunOptions(timeout=2.0))) as web:
        api = web.rstrip("/") + "/api/check"
        # One run alone: how many connections a single diagnosis holds at once
        # (it probes an alternative security mode on the same port).
        with httpx.Client(timeout=TIMEOUT) as client:
            alone = client.post(api, data=_form(new_page(client, web), pop3))
            assert alone.status_code == 200, alone.text
            read_events(client, web, alone.json()["events"])
        per_run = pop3.peak
        assert per_run >= 1 and pop3.wait_idle(TIMEOUT)
        pop3.reset_peak()

        barrier = threading.Barrier(LOADS)

        def load(_: int) -> tuple[int, dict[str, str], dict[str, object], str]:
            """One page load that starts a check, all of them in the same instant; follow it if it runs."""
            with httpx.Client(timeout=TIMEOUT) as client:
                form = _form(new_page(client, web), pop3)
                barrier.wait()
                response = client.post(api, data=form)
                last = ""
                if response.status_code == 200:
                    events, _ = read_events(client, web, response.json()["events"])
                    last = events[-1][0]
                return response.status_code, dict(response.headers), response.json(), last

        with ThreadPoolExecutor(LOADS) as pool:
            results = list(pool.map(load, range(LOADS)))

    codes = sorted(code for code, *_ in results)
    print(f"per_run={per_run} peak={pop3.peak} codes={codes}")
    assert codes.count(200) == MAX_ACTIVE_RUNS
    assert codes.count(503) == LOADS - MAX_ACTIVE_RUNS
    assert pop3.peak <= MAX_ACTIVE_RUNS * per_run
    for code, headers, body, last in results:
        if code == 200:
            assert last == "done"  # the admitted runs ran to their end
        else:
            assert int(headers["retry-after"]) > 0
            error = body["error"]
            assert isinstance(error, dict) and set(error) == {"ja", "en"}
            assert "try again" in error["en"] and "もう一度" in error["ja"]


def test_a_run_whose_page_went_away_is_stopped_and_frees_its_slot() -> None:
    # Greeting timeout 2 x 8 s: a run left alone would hold its connection for 16 s.
    options = RunOptions(timeout=8.0, max_active_runs=1, abandon_after=1.0)
    with (
        SilentPop3Server() as pop3,
        serve_in_thread(create_app(options)) as web,
        httpx.Client(timeout=TIMEOUT) as client,
    ):
        api = web.rstrip("/") + "/api/check"

        # Started and never followed (a script that only POSTs).
        first = client.post(api, data=_form(new_page(client, web), pop3))
        assert first.status_code == 200
        assert pop3.wait_connected(TIMEOUT)
        busy = client.post(api, data=_form(new_page(client, web), pop3))
        assert busy.status_code == 503  # the one slot is taken
        assert pop3.wait_idle(8.0), "the unfollowed run still holds its connection"
        # A page that comes back later learns that the run was stopped.
        events, _ = read_events(client, web, first.json()["events"])
        assert events[-1][0] == "failed" and "stopped" in json.dumps(events[-1][1])

        # Followed, then the page goes away in the middle of the run.
        second = client.post(api, data=_form(new_page(client, web), pop3))
        assert second.status_code == 200, second.text
        with client.stream("GET", web.rstrip("/") + second.json()["events"]) as stream:
            for line in stream.iter_lines():
                if line.startswith("event: settings"):
                    break
            assert pop3.wait_connected(TIMEOUT)  # the run is under way; now close the page
        assert pop3.wait_idle(8.0), "the run of a closed page still holds its connection"

        third = client.post(api, data=_form(new_page(client, web), pop3))
        assert third.status_code == 200, third.text  # its slot is free again
