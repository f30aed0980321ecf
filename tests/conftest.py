"""Shared fixtures.  Real servers live in tests/support/, one module each."""

pytest_plugins = [
    "support.dovecot",
    "support.lab",
]
