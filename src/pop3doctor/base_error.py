"""The root of every error pop3doctor raises on purpose.

A leaf module: it imports nothing from pop3doctor, so protocol/ and net/
(the lowest layers) can derive from it without importing upward.  Import it
as ``from pop3doctor.errors import Pop3DoctorError``.

``except Pop3DoctorError`` means "any failure pop3doctor knows how to name";
anything else (OSError from a local file, a bug) is not one.  The tree::

    Pop3DoctorError                      pop3doctor-error
    ├── NetError (net/errors.py)         net-error, and one code per subclass
    ├── ProtocolError (protocol/)        protocol-error: the peer broke POP3
    │   └── LocalProtocolError           local-protocol-error: *we* did (a bug)
    ├── Pop3Error (errors.py)            pop3-error: the client's own errors
    ├── DnsQueryFailed (net/records.py)  dns-query-failed
    └── HttpFetchFailed (net/http.py)    http-fetch-failed

``pop3doctor.errors`` documents the whole tree with every code.
"""

from __future__ import annotations

from typing import ClassVar


class Pop3DoctorError(Exception):
    """Base of every pop3doctor error.

    ``code`` is a stable, lower-case slug naming the class: layers above
    decide on codes (see `knowledge.evidence.cause_for_error`), never on
    ``str(exc)``, which is an English developer message with no stable form.
    Every subclass sets its own.
    """

    code: ClassVar[str] = "pop3doctor-error"

    @classmethod
    def codes(cls) -> tuple[str, ...]:
        """This class's code, then each base class's, up to the root: the lookup order for tables keyed by code."""
        return tuple(
            vars(klass)["code"]
            for klass in cls.__mro__
            if issubclass(klass, Pop3DoctorError) and "code" in vars(klass)
        )
