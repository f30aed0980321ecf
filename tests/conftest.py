"""Shared fixtures.  Real servers live in tests/support/, one module each."""

import signal

# A test run started in the background of a non-interactive shell inherits SIGINT
# ignored, and so would every pop3doctor it starts (an ignored signal stays ignored
# across exec): the Ctrl-C tests need it delivered, as it is on a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

pytest_plugins = [
    "support.dovecot",
    "support.cyrus",
    "support.mailutils",
    "support.lab",
]


def pytest_sessionfinish(session: object, exitstatus: int) -> None:
    # The server matrix's time-to-verdict table (issue 13), when P3D_MATRIX_TABLE names a file.
    from support.matrix import write_table

    write_table()
