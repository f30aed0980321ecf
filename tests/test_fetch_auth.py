"""``fetch --auth``: the mail program's login method, and what a refused APOP means (issue 13 item 1).

Against the lab over real sockets and TLS.  ``apop-no-secret`` greets with an
APOP timestamp but holds no APOP secret (servers that keep only password
hashes do that): "auto" must log in with the normal password, and an APOP the
user chose must fail as "method does not match", never as a wrong password.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import trustme

from pop3doctor.lab import LabServer
from pop3doctor.lab.server import LAB_PASSWORD
from support.messages import make_message


def _fetch(lab: LabServer, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    ca = tmp_path / "ca.pem"
    lab.write_ca(ca)
    args = [sys.executable, "-m", "pop3doctor", "fetch", "--json", "--lang", "en",
            "--host", "127.0.0.1", "--port", str(lab.tls_port), "--security", "ssl", "--ca-file", str(ca),
            "--user", "alice", "--password-env", "P3D_PW",
            "--maildir", str(tmp_path / "Maildir"), "--state", str(tmp_path / "state"), *extra]  # fmt: skip
    env = {**os.environ, "P3D_PW": LAB_PASSWORD}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)


def _stored(tmp_path: Path) -> int:
    return len(list((tmp_path / "Maildir" / "new").iterdir()))


def test_auto_uses_the_normal_password_where_apop_would_fail(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    msgs = [make_message(i, 2000) for i in range(3)]
    with LabServer("apop-no-secret", messages=msgs, ca=trustme_ca).run_in_thread() as lab:
        done = _fetch(lab, tmp_path)
        logins = list(lab.logins)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _stored(tmp_path) == 3
    assert logins and "APOP" not in logins, logins


def test_auth_apop_logs_in_with_apop(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    with LabServer("healthy", messages=[make_message(0, 2000)], ca=trustme_ca).run_in_thread() as lab:
        done = _fetch(lab, tmp_path, "--auth", "apop")
        logins = list(lab.logins)
    assert done.returncode == 0, done.stdout + done.stderr
    assert logins == ["APOP"]
    assert _stored(tmp_path) == 1


def test_refused_apop_is_not_called_a_wrong_password(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    with LabServer("apop-no-secret", messages=[make_message(0, 2000)], ca=trustme_ca).run_in_thread() as lab:
        done = _fetch(lab, tmp_path, "--auth", "apop")
    summary = json.loads(done.stdout)
    assert done.returncode == summary["exit_code"] != 0, done.stdout + done.stderr
    error = summary["error"]
    assert (error["cause"], error["stage"]) == ("auth-mechanism-unsupported", "login"), error
    assert LAB_PASSWORD not in done.stdout + done.stderr
