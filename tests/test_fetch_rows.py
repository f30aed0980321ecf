"""Fetch rows of the server matrix (issue 13): keep, keep, new, delete against each real
server, every message exactly once and byte-equal to what mpop stores from the same server
(see tests/support/fetch_rows.py for the sequence and which headers are removed per server).

A server joins with one line in ROWS: its fixture, a port name, the security, the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from support.cyrus import CyrusPool, CyrusServer, require_cyrus
from support.fetch_rows import FetchRow, fetch_sequence_matches_mpop


@pytest.fixture(scope="module")
def cyrus_redeliver(trustme_ca: trustme.CA) -> Iterator[CyrusServer]:
    """Cyrus as the `cyrus` fixture, but taking the same message twice: each tool gets the
    same bytes delivered, and lmtpd's default ``duplicatesuppression`` silently drops a second
    delivery of a Message-ID to the same mailbox (mpop then found "no messages")."""
    require_cyrus()
    pool = CyrusPool(trustme_ca)
    try:
        yield pool.start(extra_config="duplicatesuppression: 0\n")
    finally:
        pool.close()


ROWS = [
    FetchRow("dovecot", "pop3", "starttls", "maildir"),
    FetchRow("dovecot", "pop3s", "ssl", "maildir"),
    FetchRow("dovecot", "pop3", "starttls", "mbox"),
    FetchRow("dovecot", "pop3s", "ssl", "mbox"),
    FetchRow("cyrus_redeliver", "pop3", "starttls", "maildir"),
    FetchRow("cyrus_redeliver", "pop3s", "ssl", "maildir"),
    FetchRow("cyrus_redeliver", "pop3s", "ssl", "mbox"),
    FetchRow("mailutils", "pop3", "starttls", "maildir"),
    FetchRow("mailutils", "pop3s", "ssl", "mbox"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_fetch_sequence_matches_mpop(row: FetchRow, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    server = request.getfixturevalue(row.fixture)
    result = fetch_sequence_matches_mpop(server, row, tmp_path)
    assert result.messages == 14
