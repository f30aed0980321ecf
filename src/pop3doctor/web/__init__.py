"""``pop3doctor web``: a local web page for people who never open a terminal.

It renders the same diagnosis (and, where available, discovery) as the CLI;
`create_app` builds the ASGI app, `pop3doctor.web.server` serves it on
loopback.
"""

from pop3doctor.web.app import create_app
from pop3doctor.web.runs import RunOptions

__all__ = ["RunOptions", "create_app"]
