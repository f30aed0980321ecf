"""The exporter's HTTP side: a Starlette app (the stack of ``pop3doctor web``), served by uvicorn.

Routes:

- ``GET /probe?target=HOST:PORT&module=pop3_probe[&security=ssl|starttls|plain]``: the
  server checked without a login (`pop3doctor.diagnosis.serverinfo.probe_server`); without
  ``security`` the port is reported in the mode it speaks.
- ``GET /probe?module=account&account=NAME[&target=HOST:PORT]``: the diagnosis of an
  account of accounts.toml, login included (`pop3doctor.diagnosis.runner.diagnose`).
- ``GET /metrics``: the exporter's own metrics (probes run, refused, in flight; the process).
- ``GET /``: a short page naming the above.

A mistake in the query is 400 with a ja/en sentence, as blackbox_exporter
answers an unknown module.  A server that fails is not an HTTP error: it is a
200 whose ``pop3doctor_up`` is 0 and whose ``pop3doctor_cause_info`` names the
cause -- Prometheus's own ``up`` stays about the exporter.

Limits, because every scrape costs someone else's server a connection (and an
account a login): at most ``max_concurrent`` probes at once (a request waits for
a free slot within its time budget, else 503); each probe ends within the
scrape's own timeout (``X-Prometheus-Scrape-Timeout-Seconds``); and an account
logs in at most once per ``min_login_interval`` -- a scrape within it, or from a
second Prometheus of an HA pair, is served the last result with its age.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from pop3doctor.diagnosis.model import Report, Settings
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.diagnosis.serverinfo import probe_server
from pop3doctor.exporter.metrics import PREFIX, ProbeMetrics, help_text, probe_metrics, report_metrics
from pop3doctor.exporter.request import (
    ACCOUNT_MODULE,
    PROBE_MODULE,
    BadRequest,
    ProbeRequest,
    Target,
    budget,
    parse_probe,
)
from pop3doctor.i18n import Msg, catalog
from pop3doctor.sync.config import AccountConfig, ConfigError, resolve_password
from pop3doctor.web.guard import HostGuard

_t = catalog("exporter")

#: Probes at once unless told otherwise: enough for a few targets scraped
#: together, few enough that the exporter never floods a server or itself.
DEFAULT_MAX_CONCURRENT = 4

#: The longest a probe may take whatever the scrape timeout says (seconds).
DEFAULT_PROBE_TIMEOUT = 30.0

#: Seconds of an account probe's budget kept back from the diagnosis's own deadline,
#: so that the diagnosis reports ``diagnosis-deadline`` itself, with the stages it did.
DEADLINE_GRACE = 1.0

#: An account logs in at most once in this many seconds (see the module doc).
DEFAULT_MIN_LOGIN_INTERVAL = 60.0


@dataclass(frozen=True)
class ExporterOptions:
    ca_file: str | None = None  # for pop3_probe; an account has its own ca_file
    timeout: float = 8.0  # per phase (connect, TLS ...), as ``--timeout`` of diagnose
    nameservers: list[str] | None = None
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    probe_timeout: float = DEFAULT_PROBE_TIMEOUT
    min_login_interval: float = DEFAULT_MIN_LOGIN_INTERVAL
    #: Host names requests may carry (DNS-rebinding guard); None: any (not on loopback).
    allowed_hosts: frozenset[str] | None = None


@dataclass
class _LastLogin:
    """An account's last diagnosis, kept to be served again within the login interval."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    report: Report | None = None
    seconds: float = 0.0
    finished: float = 0.0  # time.monotonic()


def _text(status: int, msg: Msg, headers: dict[str, str] | None = None) -> PlainTextResponse:
    """A plain answer in both languages: a scrape has no locale, and an admin of either reads it."""
    return PlainTextResponse(f"{msg.en}\n{msg.ja}\n", status_code=status, headers=headers)


class Exporter:
    """The exporter's state: its own metrics, the bound on probes, the accounts and their last results."""

    def __init__(self, options: ExporterOptions | None = None, accounts: Sequence[AccountConfig] = ()) -> None:
        self.options = options or ExporterOptions()
        self.accounts = {a.name: a for a in accounts}
        self.account_names = frozenset(self.accounts)
        self._slots = asyncio.Semaphore(self.options.max_concurrent)
        self._last: dict[str, _LastLogin] = {}
        # A registry of the exporter's own, not prometheus_client's global one:
        # two exporters in one process (tests) must not share counters.
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.probes = Counter(
            f"{PREFIX}_exporter_probes", help_text("exporter_probes"), ["module", "result"], registry=self.registry
        )
        self.in_flight = Gauge(
            f"{PREFIX}_exporter_probes_in_flight", help_text("exporter_probes_in_flight"), registry=self.registry
        )
        self.refused = Counter(
            f"{PREFIX}_exporter_requests_refused",
            help_text("exporter_requests_refused"),
            ["reason"],
            registry=self.registry,
        )
        for reason in ("bad-request", "busy", "password", "error"):
            self.refused.labels(reason=reason)  # every series present from the start, at 0

    # -- routes ---------------------------------------------------------------------

    async def probe(self, request: Request) -> Response:
        try:
            wanted = parse_probe(request.query_params, self.account_names)
            self._check_account_target(wanted)
        except BadRequest as exc:
            self.refused.labels(reason="bad-request").inc()
            return _text(400, exc.msg)
        seconds = budget(request.headers.get("x-prometheus-scrape-timeout-seconds"), self.options.probe_timeout)
        ends = time.monotonic() + seconds
        try:
            async with asyncio.timeout(seconds):
                await self._slots.acquire()
        except TimeoutError:
            self.refused.labels(reason="busy").inc()
            return _text(503, _t.BUSY.format(limit=self.options.max_concurrent), headers={"Retry-After": "1"})
        self.in_flight.inc()
        try:
            left = max(ends - time.monotonic(), 0.1)
            if wanted.module == PROBE_MODULE:
                metrics = await self._probe_server(wanted, left)
            else:
                metrics = await self._probe_account(wanted, left)
        except ConfigError as exc:
            self.refused.labels(reason="password").inc()
            problem = exc.msg  # ConfigError's text never holds the secret
            return _text(
                500,
                Msg(
                    _t.PASSWORD_UNAVAILABLE("ja", account=wanted.account, problem=problem.ja),
                    _t.PASSWORD_UNAVAILABLE("en", account=wanted.account, problem=problem.en),
                ),
            )
        except Exception as exc:
            # A bug of ours: no traceback to the scraper (nor the server's bytes it may hold).
            self.refused.labels(reason="error").inc()
            return _text(500, _t.INTERNAL_ERROR.format(kind=type(exc).__name__))
        finally:
            self.in_flight.dec()
            self._slots.release()
        self.probes.labels(module=wanted.module, result="up" if metrics.is_up else "down").inc()
        return _exposition(request, metrics.registry)

    async def metrics(self, request: Request) -> Response:
        return _exposition(request, self.registry)

    async def index(self, request: Request) -> Response:
        lines = [_t.INDEX.en, _t.INDEX.ja, ""]
        lines += [
            f"/probe?target=HOST:PORT&module={PROBE_MODULE}   {_t.INDEX_PROBE.en} / {_t.INDEX_PROBE.ja}",
            f"/probe?module={ACCOUNT_MODULE}&account=NAME   {_t.INDEX_ACCOUNT.en} / {_t.INDEX_ACCOUNT.ja}",
            f"/metrics   {_t.INDEX_METRICS.en} / {_t.INDEX_METRICS.ja}",
        ]
        if self.accounts:
            lines += ["", "accounts: " + ", ".join(sorted(self.accounts))]
        return PlainTextResponse("\n".join(lines) + "\n")

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return _text(404, _t.NOT_FOUND)

    # -- the two modules ---------------------------------------------------------------

    async def _probe_server(self, wanted: ProbeRequest, seconds: float) -> ProbeMetrics:
        target = wanted.target
        assert target is not None  # parse_probe: pop3_probe needs one
        started = time.monotonic()
        # Without security=, the port is tried with implicit TLS and STARTTLS
        # and reported in the mode it speaks (the probe's auto_ports).
        modes = [] if wanted.security is None else [(target.port, wanted.security)]
        try:
            async with asyncio.timeout(seconds):
                info = await probe_server(
                    target.host,
                    modes,
                    timeout=min(self.options.timeout, seconds),
                    ca_file=self.options.ca_file,
                    nameservers=self.options.nameservers,
                    auto_ports=[target.port] if wanted.security is None else [],
                )
        except TimeoutError:
            return _deadline(time.monotonic() - started)
        return probe_metrics(info, time.monotonic() - started)

    async def _probe_account(self, wanted: ProbeRequest, seconds: float) -> ProbeMetrics:
        assert wanted.account is not None
        config = self.accounts[wanted.account]
        last = self._last.setdefault(config.name, _LastLogin())
        # One login at a time per account; a scrape that waited for another's
        # login gets that result instead of logging in again straight away.
        waited = time.monotonic()
        try:
            async with asyncio.timeout(seconds):
                await last.lock.acquire()
        except TimeoutError:
            return _deadline(time.monotonic() - waited)
        try:
            now = time.monotonic()
            if last.report is not None and now - last.finished < self.options.min_login_interval:
                metrics = report_metrics(last.report, last.seconds)
                metrics.optional("result_age_seconds").set(now - last.finished)
                return metrics
            started = time.monotonic()
            left = max(seconds - (started - waited), 0.1)
            try:
                # The diagnosis stops itself at its deadline (and says so); this
                # bounds what comes before it (a password_command) and after it.
                async with asyncio.timeout(left):
                    report = await self._diagnose(config, max(left - DEADLINE_GRACE, left / 2))
            except TimeoutError:
                return _deadline(time.monotonic() - started)  # not kept: the next scrape tries again
            last.report, last.seconds, last.finished = report, time.monotonic() - started, time.monotonic()
            metrics = report_metrics(report, last.seconds)
            metrics.optional("result_age_seconds").set(0)
            return metrics
        finally:
            last.lock.release()

    async def _diagnose(self, config: AccountConfig, seconds: float) -> Report:
        account = config.account
        endpoint = account.endpoint
        # A password_command may run for a while (a GPG agent): not on the event loop.
        password = await asyncio.to_thread(resolve_password, config.password, endpoint.user)
        settings = Settings.of(endpoint, timeout=min(account.timeouts.connect, seconds))
        report = Report(settings)
        async for _finding in diagnose(
            settings,
            password,
            nameservers=account.nameservers or self.options.nameservers,
            report=report,
            deadline=seconds,
        ):
            pass  # the report collects them
        return report

    def _check_account_target(self, wanted: ProbeRequest) -> None:
        """An account request's target, when given, must be that account's server (a relabelling mistake else)."""
        if wanted.module != ACCOUNT_MODULE or wanted.target is None or wanted.account is None:
            return
        endpoint = self.accounts[wanted.account].account.endpoint
        server = Target(endpoint.host, endpoint.port)
        if _same_server(wanted.target) != _same_server(server):
            raise BadRequest(_t.TARGET_NOT_ACCOUNT.format(target=wanted.target, account=wanted.account, server=server))


def _same_server(target: Target) -> tuple[str, int]:
    """What makes two targets the same server: DNS names ignore case and a final dot."""
    return target.host.lower().rstrip("."), target.port


def _deadline(seconds: float) -> ProbeMetrics:
    """The metrics of a probe stopped at its time budget."""
    metrics = ProbeMetrics()
    metrics.probe_duration.set(seconds)
    metrics.set_up(False)
    metrics.set_cause("diagnosis-deadline")
    return metrics


def _exposition(request: Request, registry: CollectorRegistry) -> Response:
    """``registry`` in the format the scraper asked for (Prometheus text or OpenMetrics)."""
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), media_type=None, headers={"Content-Type": content_type})


def create_app(exporter: Exporter) -> ASGIApp:
    app = Starlette(
        routes=[
            Route("/", exporter.index),
            Route("/probe", exporter.probe),
            Route("/metrics", exporter.metrics),
        ],
        exception_handlers={404: exporter.not_found},
    )
    allowed = exporter.options.allowed_hosts
    return HostGuard(app, allowed) if allowed is not None else app
