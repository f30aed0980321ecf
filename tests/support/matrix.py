"""The server matrix (issue 13): one table row per server x case, one harness for all servers.

A row names the settings a mail program would have (which of the server's
ports, which security mode, which login method, which password), and the
verdict a user must get: the report's verdict and cause, and the settings it
suggests (as the name of one of the server's ports and a security mode, so a
row reads the same whatever free ports the server was given).

Each server fixture (Dovecot, Mailutils, Cyrus, ...) exposes the small
`MatrixServer` protocol; `check_row` runs the real diagnosis in-process
against it over real sockets and asserts the row.  The time to verdict of
every row is collected, and written as a Markdown table to the file named by
``P3D_MATRIX_TABLE`` at the end of the session (the closing notes quote it).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pop3doctor.diagnosis.model import Report, Settings
from pop3doctor.diagnosis.runner import diagnose

#: Password markers of a row: the account's own password, a wrong one, none at all.
RIGHT = "right"
WRONG = "wrong"


class MatrixServer(Protocol):
    """What the harness needs from a server fixture."""

    name: str  # "dovecot", "mailutils", "cyrus" (the table's first column)
    host: str
    user: str
    password: str
    ca_file: Path | str

    @property
    def ports(self) -> Mapping[str, int]:
        """Port name ("pop3", "pop3s", ...) -> the port it listens on."""
        ...


@dataclass(frozen=True)
class Row:
    case: str  # what is tried, in words: "right password over STLS"
    port: str  # a key of `MatrixServer.ports`
    security: str  # "ssl", "starttls", "plain", "auto"
    verdict: str  # the report's verdict: "ok", "fail", "warn"
    cause: str  # the report's cause code
    password: str | None = RIGHT  # RIGHT, WRONG, None (no password given), or a literal
    user: str | None = None  # None: the server's own user
    suggested: tuple[str, str] | None = None  # (port name, security) the report must suggest
    settings: dict[str, Any] = field(default_factory=dict)  # more Settings fields: auth, allow_plaintext
    timeout: float = 3.0

    @property
    def id(self) -> str:
        return self.case.replace(" ", "-")


@dataclass
class Timed:
    server: str
    row: Row
    seconds: float
    verdict: str
    cause: str | None
    suggested: tuple[str, str] | None
    ok: bool


RESULTS: list[Timed] = []


def _password(server: MatrixServer, row: Row) -> str | None:
    if row.password == RIGHT:
        return server.password
    if row.password == WRONG:
        return "wrong-" + server.password
    return row.password


async def run_row(server: MatrixServer, row: Row) -> tuple[Report, float]:
    """The real diagnosis of ``row`` against ``server``; its report and seconds to verdict."""
    settings = Settings(
        server.host,
        server.ports[row.port],
        row.security,  # type: ignore[arg-type]
        row.user or server.user,
        ca_file=str(server.ca_file),
        timeout=row.timeout,
        **row.settings,
    )
    report = Report(settings)
    extra = tuple(sorted(set(server.ports.values())))
    start = time.monotonic()
    findings = [f async for f in diagnose(settings, _password(server, row), extra_ports=extra, report=report)]
    seconds = time.monotonic() - start
    assert findings[-1].stage == "summary"
    return report, seconds


def suggested_as_names(server: MatrixServer, report: Report) -> tuple[str, str] | None:
    """The report's suggestion as (port name, security), or None; an unknown port stays a number."""
    s = report.suggested
    if s is None:
        return None
    names = {port: name for name, port in server.ports.items()}
    return names.get(s.port, str(s.port)), s.security.value


async def check_row(server: MatrixServer, row: Row) -> Report:
    """Run ``row`` and assert its verdict, cause and suggestion; record the time to verdict."""
    report, seconds = await run_row(server, row)
    got = (report.verdict, report.cause, suggested_as_names(server, report))
    want = (row.verdict, row.cause, row.suggested)
    RESULTS.append(Timed(server.name, row, seconds, report.verdict, report.cause, got[2], got == want))
    trail = [(f.stage, f.status.value, f.cause) for f in report.findings]
    assert got == want, f"{server.name} / {row.case}: got {got}, want {want}; findings {trail}"
    return report


def table() -> str:
    """The rows run so far as a Markdown table: what each row got, how long it took, and if that was right."""
    lines = [
        "| server | case | port / security | verdict | cause | suggested | s to verdict | right |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in RESULTS:
        sugg = "/".join(t.suggested) if t.suggested else "-"
        lines.append(
            f"| {t.server} | {t.row.case} | {t.row.port} / {t.row.security} | {t.verdict} | {t.cause} "
            f"| {sugg} | {t.seconds:.2f} | {'yes' if t.ok else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def write_table() -> None:
    """Called at the end of the session (conftest): the table to ``P3D_MATRIX_TABLE`` when set."""
    target = os.environ.get("P3D_MATRIX_TABLE")
    if target and RESULTS:
        Path(target).write_text(table(), encoding="utf-8")


def rows_for(rows: list[Row], **changes: Any) -> list[Row]:
    """The same rows with fields changed (a case shared by servers with one difference)."""
    return [dataclasses.replace(r, **changes) for r in rows]
