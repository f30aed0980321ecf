"""Ctrl-C while ``fetch --delete`` waits for the server's answer to QUIT (issue 12).

Once QUIT is out the server may commit this run's deletions (RFC 1939 UPDATE
state), so the Ctrl-C message must not promise "no QUIT was sent, the server
deletes nothing" -- it says QUIT was sent and that every message the run asked
to delete is saved.  A small server that hangs on QUIT holds the client there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.quit_hang import PASSWORD, USER, QuitHangServer


def _fetch(server: QuitHangServer, tmp_path: Path, lang: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "pop3doctor", "fetch", "--delete", "--lang", lang,
            "--host", server.host, "--port", str(server.port), "--security", "plain", "--allow-plaintext",
            "--user", USER, "--password-env", "P3D_PW", "--timeout", "30",
            "--maildir", str(tmp_path / "Maildir"), "--state", str(tmp_path / "state")]
    return subprocess.Popen(args, env={**os.environ, "P3D_PW": PASSWORD},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize(
    ("lang", "said", "not_said"),
    [
        ("en", "QUIT had already been sent", "No QUIT was sent"),
        ("ja", "QUIT を送ったあと", "QUIT を送っていない"),
    ],
)
def test_ctrl_c_after_quit_does_not_claim_no_quit_was_sent(
    tmp_path: Path, lang: str, said: str, not_said: str
) -> None:
    with QuitHangServer(messages=3) as server:
        proc = _fetch(server, tmp_path, lang)
        try:
            assert server.quit_seen.wait(30), "the run never sent QUIT"
            time.sleep(0.2)  # the client is now waiting for QUIT's answer
            assert proc.poll() is None
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    stderr = err.decode()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert said in stderr
    assert not_said not in stderr
    assert server.deleted == {1, 2, 3}  # DELE went out for all three: QUIT would commit them
    assert len(list((tmp_path / "Maildir" / "new").iterdir())) == 3  # and every one is saved
