"""The one place the benchmarks borrow the test suite's helpers.

tests/support/ holds the real-Dovecot launcher and the message generator the
tests use; the benchmarks drive the very same server set-up rather than a
second copy of it.  They are not an installed package, so the tests directory
goes on ``sys.path`` here, once, and everything else imports from this module.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from support.dovecot import (  # noqa: E402
    DovecotOptions,
    DovecotServer,
    DovecotUnavailable,
    check_available,
    ensure_mail_account,
)
from support.messages import iter_message_chunks, make_message  # noqa: E402

__all__ = [
    "TESTS_DIR",
    "DovecotOptions",
    "DovecotServer",
    "DovecotUnavailable",
    "check_available",
    "ensure_mail_account",
    "iter_message_chunks",
    "make_message",
]
