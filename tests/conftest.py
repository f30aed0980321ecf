"""Shared fixtures.  Real servers live in tests/support/, one module each."""

pytest_plugins = [
    "support.dovecot",
    "support.cyrus",
    "support.lab",
]


def pytest_sessionfinish(session: object, exitstatus: int) -> None:
    # The server matrix's time-to-verdict table (issue 13), when P3D_MATRIX_TABLE names a file.
    from support.matrix import write_table

    write_table()
