"""A 200 MB message streams to disk: peak memory growth stays under 64 MB.

Measured in a subprocess running the real CLI, as RSS (resident set size):
psutil gives the RSS after all imports (the baseline), and the kernel's
high-water mark ``VmHWM`` gives the true peak afterwards -- no sampling that
could miss a short spike.  Not ``ru_maxrss``: Linux carries that across
execve, so a child forked from a large pytest process would report the
parent's size (seen: 170 MiB "peak" in the full suite, 60 MiB alone).  RSS, not tracemalloc, because the buffers
that matter are also outside Python's allocator: OpenSSL's read buffers,
SQLite's page cache, the kernel-side copies into our process.  tracemalloc
would see only Python objects and could miss a leak in C.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.dovecot import DovecotServer
from support.messages import message_id, write_large_message

SIZE = 200 * 1024 * 1024
LIMIT = 64 * 1024 * 1024

_DRIVER = """
import json, sys
import psutil
from pop3doctor.cli.main import main
import pop3doctor.cli.fetch, pop3doctor.sync.engine, pop3doctor.client  # everything imported first
base = psutil.Process().memory_info().rss
sys.argv = ["pop3doctor", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
with open("/proc/self/status") as status:  # VmHWM: this process image's own high-water mark
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) * 1024
print(json.dumps({"base": base, "peak": peak, "code": code}), file=sys.stderr)
"""


def _lf_size_and_head(path: Path) -> tuple[int, bytes]:
    """Size after CRLF -> LF, and the first 4 KiB, read in chunks."""
    size = crlf = 0
    prev = b""
    with path.open("rb") as f:
        head = f.read(4096)
        f.seek(0)
        while chunk := f.read(1 << 20):
            size += len(chunk)
            crlf += chunk.count(b"\r\n") + (prev == b"\r" and chunk[:1] == b"\n")
            prev = chunk[-1:]
    return size - crlf, head


def test_200mb_message_peak_rss_growth_under_64mb(dovecot: DovecotServer, tmp_path: Path) -> None:
    dovecot.clear()
    source = write_large_message(tmp_path / "big.eml", SIZE, index=7)
    dovecot.deliver_file(source)
    expected_size, head = _lf_size_and_head(source)
    args = ["fetch", "--host", dovecot.host, "--port", str(dovecot.pop3s_port), "--security", "ssl",
            "--ca-file", str(dovecot.ca_file), "--user", dovecot.user, "--password-env", "P3D_PW",
            "--maildir", str(tmp_path / "M"), "--state", str(tmp_path / "s"), "--json", "--delete"]
    done = subprocess.run([sys.executable, "-c", _DRIVER, *args], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "P3D_PW": dovecot.password})
    memory = json.loads(done.stderr.strip().splitlines()[-1])
    summary = json.loads(done.stdout)
    assert memory["code"] == 0 and summary["fetched"] == 1, done.stderr
    growth = memory["peak"] - memory["base"]
    print(f"baseline RSS {memory['base'] / 2**20:.1f} MiB, peak {memory['peak'] / 2**20:.1f} MiB, "
          f"growth {growth / 2**20:.1f} MiB")
    assert growth < LIMIT
    (stored,) = list((tmp_path / "M" / "new").iterdir())
    assert stored.stat().st_size == expected_size
    with stored.open("rb") as f:
        assert message_id(f.read(4096)) == message_id(head)
    assert dovecot.maildir_count() == 0
    source.unlink()
