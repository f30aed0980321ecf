"""The README's main command: ``pop3doctor demo`` runs offline and catches every planted fault."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pop3doctor.cli.demo import CASES


@pytest.mark.parametrize(
    ("lang", "ok_text", "problem_text", "fix_text"),
    [
        ("ja", "問題なし: メールを受信できます", "問題が見つかりました", "直し方"),
        ("en", "OK: mail can be received", "Problem found", "How to fix it"),
    ],
)
def test_demo_diagnoses_each_case(lang: str, ok_text: str, problem_text: str, fix_text: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pop3doctor", "demo", "--lang", lang],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.count(ok_text) == 1  # only the healthy case passes
    assert out.count(problem_text) == len(CASES) - 1
    assert out.count(fix_text) == len(CASES) - 1
    # The SSL-on-the-plain-port case ends with settings that were proven to work.
    assert ("ポート" if lang == "ja" else "port") in out
    for cause in ("auth-failed", "port-expects-plain", "app-password-required", "cert-expired", "mailbox-in-use"):
        assert f"({cause})" in out
