"""The local web page: a Starlette app that drives the same diagnosis as ``pop3doctor diagnose``.

Routes:

- ``GET /``: the page, in the language the browser prefers (``?lang=ja|en`` overrides);
  each load gets its own CSRF token.
- ``POST /api/check``: start the checks (form fields + ``page`` + ``csrf``); answers
  ``{"run": id, "events": url}``, or ``{"error": {ja, en}, "field": name}`` with 400
  (fix the field), 403 (stale page / bad token), 409 (this page already runs a check)
  or 503 with ``Retry-After`` (the server-wide cap of running checks is reached).
- ``POST /api/explain``: a pasted error message (``text`` + ``page`` + ``csrf``) explained:
  cause, candidates, the check that tells them apart, the server name to check; 400 when
  the paste is empty, 403 for a stale page / bad token.  Runs nothing on the network.
- ``GET /api/check/{run}/events``: the run as server-sent events: ``settings``,
  ``finding`` (one per completed stage), then ``done`` or ``failed``.
- ``/static/...``: the page's script and style, shipped in the package (no CDN).

`HostGuard` wraps everything: loopback Host names only, strict security headers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from pop3doctor import __version__
from pop3doctor.diagnosis.text import SECURITY_LABELS
from pop3doctor.escaping import json_text
from pop3doctor.i18n import LANGS, Lang, Msg
from pop3doctor.knowledge.explain import explain_paste
from pop3doctor.web import events
from pop3doctor.web.explain import explain_event
from pop3doctor.web.form import FormError, parse_check_form
from pop3doctor.web.guard import HostGuard, PageTokens, is_loopback_origin
from pop3doctor.web.lang import from_accept_language
from pop3doctor.web.runs import RunOptions, RunRegistry, start_run
from pop3doctor.web.text import BUSY, EXPLAIN_EMPTY, SERVER_BUSY, STALE_PAGE, UI

#: Form fields longer than this are refused before parsing: nothing legitimate is that long.
MAX_FIELD = 1024

#: A pasted message or log may be longer than a setting: this much is read (its end is what matters).
MAX_PASTE = 64 * 1024

#: Seconds a refused page is asked to wait (503 ``Retry-After``): a diagnosis
#: that fails fast is done in a few seconds.
RETRY_AFTER_S = 5


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pop3doctor.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    return env


def _error(
    status: int, message: Msg, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": events.both(message), "field": field}, status_code=status, headers=headers)


class WebApp:
    """The page's state: handed-out pages, runs, and the server-wide `RunOptions`."""

    def __init__(self, options: RunOptions | None = None) -> None:
        self.options = options or RunOptions()
        self.pages = PageTokens()
        self.runs = RunRegistry(max_active=self.options.max_active_runs)
        self.templates = _environment()

    async def index(self, request: Request) -> Response:
        wanted = request.query_params.get("lang")
        lang: Lang = wanted if wanted in LANGS else from_accept_language(request.headers.get("accept-language"))
        page = self.pages.new()
        ui_json = json.dumps(
            {
                "ui": {key: events.both(msg) for key, msg in UI.items()},
                "stages": events.stage_names(),
            },
            ensure_ascii=False,
        ).replace("<", "\\u003c")  # the JSON sits in a <script> element: no "</script>" inside
        html = self.templates.get_template("index.html").render(
            lang=lang,
            ui=UI,
            page=page,
            stages=events.stage_names(),
            security_labels=SECURITY_LABELS,
            ui_json=ui_json,
            version=__version__,
        )
        return HTMLResponse(html)

    async def check(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin is not None and not is_loopback_origin(origin, request.headers.get("host", "")):
            return _error(403, STALE_PAGE)
        async with request.form(max_files=0, max_fields=16) as form:
            fields: dict[str, str] = {}
            for key, value in form.multi_items():
                if isinstance(value, UploadFile) or len(value) > MAX_FIELD:
                    return _error(400, STALE_PAGE)
                fields[key] = value
        page = self.pages.check(fields.pop("page", ""), fields.pop("csrf", ""))
        if page is None:
            return _error(403, STALE_PAGE)
        current = self.runs.get(page.run_id)
        if current is not None and not current.finished:
            return _error(409, BUSY)
        # The password leaves the form here and goes only into the run's task.
        password = fields.pop("password", "") or None
        try:
            check = parse_check_form(fields)
        except FormError as exc:
            return _error(400, exc.message, exc.field)
        # Checked right before the start, with no await between: the count cannot change meanwhile.
        if self.runs.full():
            return _error(503, SERVER_BUSY, headers={"retry-after": str(RETRY_AFTER_S)})
        run = start_run(check, password, self.options)
        del password
        self.runs.add(run)
        page.run_id = run.run_id
        return JSONResponse({"run": run.run_id, "events": f"/api/check/{run.run_id}/events"})

    async def explain(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin is not None and not is_loopback_origin(origin, request.headers.get("host", "")):
            return _error(403, STALE_PAGE)
        async with request.form(max_files=0, max_fields=4, max_part_size=MAX_PASTE * 4) as form:
            fields: dict[str, str] = {}
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    return _error(400, STALE_PAGE)
                fields[key] = value
        if self.pages.check(fields.get("page", ""), fields.get("csrf", "")) is None:
            return _error(403, STALE_PAGE)
        pasted = fields.get("text", "")[-MAX_PASTE:]
        if not pasted.strip():
            return _error(400, EXPLAIN_EMPTY, "paste")
        # A pasted log is classified line by line (about 0.1 ms a line): off the event loop,
        # so the running checks' event streams keep flowing meanwhile.
        reading = await run_in_threadpool(explain_paste, pasted)
        return JSONResponse(explain_event(reading))

    async def stream(self, request: Request) -> Response:
        run = self.runs.get(request.path_params["run_id"])
        if run is None:
            return _error(404, STALE_PAGE)
        last = request.headers.get("last-event-id", "")
        start = int(last) + 1 if last.isdigit() else 0

        async def body() -> AsyncIterator[str]:
            # Ask the browser to wait before reconnecting; a finished run is
            # closed by the page itself on "done".
            yield "retry: 2000\n\n"
            async for index, kind, data in run.follow(start):
                payload = json_text(data)
                yield f"id: {index}\nevent: {kind}\ndata: {payload}\n\n"

        return StreamingResponse(
            body(), media_type="text/event-stream", headers={"x-accel-buffering": "no"}
        )


def create_app(options: RunOptions | None = None) -> ASGIApp:
    """The page as an ASGI app, wrapped in `HostGuard` (loopback Host names only)."""
    web = WebApp(options)
    app = Starlette(
        routes=[
            Route("/", web.index, methods=["GET"]),
            Route("/api/check", web.check, methods=["POST"]),
            Route("/api/explain", web.explain, methods=["POST"]),
            Route("/api/check/{run_id}/events", web.stream, methods=["GET"]),
            Mount("/static", StaticFiles(packages=[("pop3doctor.web", "static")]), name="static"),
        ]
    )
    app.state.web = web
    return HostGuard(app)
