"""``python -m benchmarks [retrieve|fetch|all] [options]`` (``./dev bench`` runs ``all``).

retrieve  2,000 x 10 KB read without delete by pop3doctor's client (to
          /dev/null), stdlib poplib, mpop, and a raw pipelined socket read.
fetch     the whole job, keep mode, Maildir delivery where the peer has it:
          ``pop3doctor fetch`` vs mpop, fetchmail, getmail6, poplib and the
          raw read, on 2,000 x 10 KB and on 20 x 5 MB.

Exit status: 0 all tools ran, 1 a tool failed (its error is in the table),
2 the benchmark could not run (no Dovecot, not root).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks import external, inprocess
from benchmarks.model import Tool
from benchmarks.report import WorkloadReport, load_average, machine, print_legend, print_machine
from benchmarks.runner import alternate
from benchmarks.server import BenchServer, Workload, bench_server
from benchmarks.testsupport import DovecotUnavailable, check_available

KB = 1024
MB = 1024 * 1024

Job = Callable[[BenchServer, argparse.Namespace], list[WorkloadReport]]

OURS_CLIENT = "pop3doctor"
OURS_FETCH = "pop3doctor fetch"


def retrieve_tools(mpop_delivery: str) -> list[Tool]:
    return [inprocess.ours(), inprocess.stdlib_poplib(), external.mpop(mpop_delivery), inprocess.raw()]


def fetch_tools() -> list[Tool]:
    return [
        external.ours_cli(external.ours_cli_missing()),
        external.mpop("maildir"),
        external.fetchmail(),
        external.getmail6(),
        inprocess.stdlib_poplib(),
        inprocess.raw(),
    ]


def _select(tools: list[Tool], wanted: str | None) -> list[Tool]:
    """Keep the tools named in the comma list ``wanted`` (all when None); the raw limit always stays."""
    if not wanted:
        return tools
    names = {name.strip() for name in wanted.split(",") if name.strip()}
    unknown = names - {t.name for t in tools}
    if unknown:
        raise SystemExit(f"unknown tool(s): {', '.join(sorted(unknown))}; known: {', '.join(t.name for t in tools)}")
    return [t for t in tools if t.name in names or t.name == "raw"]


def run_retrieve(server: BenchServer, args: argparse.Namespace) -> list[WorkloadReport]:
    workload = Workload("retrieve", args.messages, args.size)
    tools = _select(retrieve_tools(args.mpop_delivery), args.tools)
    rounds = args.rounds or RETRIEVE_ROUNDS
    return [_run_workload(server, workload, tools, rounds, OURS_CLIENT, _retrieve_base(args))]


def run_fetch(server: BenchServer, args: argparse.Namespace) -> list[WorkloadReport]:
    tools = _select(fetch_tools(), args.tools)
    reports = []
    for workload in (
        Workload("fetch-small", args.messages, args.size),
        Workload("fetch-large", args.large_messages, args.large_size),
    ):
        if workload.messages > 0:
            rounds = args.rounds or FETCH_ROUNDS
            reports.append(_run_workload(server, workload, tools, rounds, OURS_FETCH, _fetch_base(args)))
    return reports


def _run_workload(
    server: BenchServer, workload: Workload, tools: list[Tool], rounds: int, ours: str, base: Path
) -> WorkloadReport:
    print(f"{workload.name}: delivering {workload.describe()} and warming up Dovecot ...", file=sys.stderr, flush=True)
    target = server.mailbox(workload)
    scratch = Path(tempfile.mkdtemp(prefix=f"p3bench-{workload.name}-", dir=base))
    # 0711: getmail6 delivers from a child switched to the unprivileged mail account, which must reach its Maildir.
    scratch.chmod(0o711)
    try:
        results = alternate(target, tools, rounds, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return WorkloadReport(workload, target, rounds, results, ours=ours, scratch=str(base))


def _retrieve_base(args: argparse.Namespace) -> Path:
    """Where mpop's Maildir goes in `retrieve`: tmpfs when there is one.

    The others stream to /dev/null; a Maildir on disk would charge mpop for
    fsync, which is the filesystem's speed, not mpop's.  (Its other choice,
    ``mda "cat >/dev/null"``, costs a process per message and was slower still.)
    """
    if args.workdir is not None:
        return Path(args.workdir)
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def _fetch_base(args: argparse.Namespace) -> Path:
    """Where Maildirs and state go in `fetch`: the system temp dir, a real disk as users have."""
    return Path(args.workdir) if args.workdir is not None else Path(tempfile.gettempdir())


#: Timed runs per tool when --rounds is not given.
RETRIEVE_ROUNDS = 5
FETCH_ROUNDS = 3


def _common(parser: argparse.ArgumentParser, rounds: str) -> None:
    parser.add_argument("--rounds", type=int, help=f"timed runs per tool (default {rounds})")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where Maildirs and state are written (default: retrieve /dev/shm, fetch the system temp dir)",
    )
    parser.add_argument("--tools", metavar="A,B", help="only these tools (the raw limit always runs)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    retrieve = sub.add_parser("retrieve", help="client retrieval: ours vs poplib vs mpop vs raw")
    retrieve.add_argument("--messages", type=int, default=2000)
    retrieve.add_argument("--size", type=int, default=10 * KB, help="octets per message (default 10240)")
    retrieve.add_argument(
        "--mpop-delivery",
        choices=["maildir", "null"],
        default="maildir",
        help='mpop\'s delivery: a scratch Maildir (default) or mda "cat >/dev/null"',
    )
    _common(retrieve, rounds=str(RETRIEVE_ROUNDS))
    fetch = sub.add_parser("fetch", help="whole fetch: ours vs mpop, fetchmail, getmail6, poplib, raw")
    _fetch_sizes(fetch)
    _common(fetch, rounds=str(FETCH_ROUNDS))
    both = sub.add_parser("all", help="retrieve, then fetch (the default)")
    _fetch_sizes(both)
    both.add_argument("--mpop-delivery", choices=["maildir", "null"], default="maildir")
    _common(both, rounds=f"{RETRIEVE_ROUNDS} retrieve, {FETCH_ROUNDS} fetch")
    return parser


def _fetch_sizes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=int, default=2000, help="small workload: messages (default 2000)")
    parser.add_argument("--size", type=int, default=10 * KB, help="small workload: octets each (default 10240)")
    parser.add_argument("--large-messages", type=int, default=20, help="large workload: messages (0 = skip)")
    parser.add_argument("--large-size", type=int, default=5 * MB, help="large workload: octets each (default 5 MiB)")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        args = _parser().parse_args(["all", *(argv if argv is not None else sys.argv[1:])])
    if args.rounds is not None and args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    try:
        check_available()
    except DovecotUnavailable as exc:
        print(f"benchmarks: cannot start Dovecot here: {exc}", file=sys.stderr)
        return 2
    every: dict[str, list[Job]] = {"retrieve": [run_retrieve], "fetch": [run_fetch], "all": [run_retrieve, run_fetch]}
    jobs = every[args.command]
    info = machine()
    print_machine(info, sys.stdout)
    reports: list[WorkloadReport] = []
    with bench_server(args.workdir) as server:
        for job in jobs:
            for report in job(server, args):
                report.print_table(sys.stdout)
                sys.stdout.flush()
                reports.append(report)
    info["loadavg_end"] = load_average()
    print_legend(sys.stdout, info)
    if args.json is not None:
        payload = {"machine": info, "workloads": [r.to_json() for r in reports]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    failed = any(r.error is not None for report in reports for r in report.results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
