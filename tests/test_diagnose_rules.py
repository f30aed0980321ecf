"""What a cause leads to is data (causes.toml): the diagnosis follows the data, not a copy of it.

Each behaviour is shown twice against the lab: as shipped, and with the one
rule changed in the loaded catalogue, which must change the diagnosis.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import pytest

from pop3doctor.diagnosis.model import Report, Settings
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.knowledge import causes
from pop3doctor.lab import LabServer
from pop3doctor.lab.scenarios import SCENARIOS


def change_rule(monkeypatch: pytest.MonkeyPatch, code: str, **changes: Any) -> None:
    """Load the catalogue with ``code``'s rule fields replaced."""
    table = causes.all_causes()
    table[code] = dataclasses.replace(table[code], **changes)
    monkeypatch.setattr(causes, "_causes", lambda: MappingProxyType(table))


async def diagnose_lab(
    lab: LabServer, tmp_path: Any, *, port: int | None = None, security: str = "ssl", **more: Any
) -> Report:
    ca = tmp_path / "lab-ca.pem"
    lab.write_ca(str(ca))
    settings = Settings(lab.host, port or lab.tls_port, security, lab.user, ca_file=str(ca), timeout=2, **more)
    report = Report(settings)
    extra = tuple(p for p in (lab.tls_port, lab.port) if p is not None)
    async for _ in diagnose(settings, lab.password, extra_ports=extra, report=report):
        pass
    return report


def finding(report: Report, stage: str) -> Any:
    return next(f for f in report.findings if f.stage == stage and f.cause)


# -- the OAuth override ------------------------------------------------------------------

TOKEN_ONLY_WRONG_PASSWORD = dataclasses.replace(SCENARIOS["wrong-password"], sasl=("XOAUTH2", "OAUTHBEARER"))


async def test_refused_password_with_only_token_sasl_is_oauth_required(
    lab_factory: Callable[..., LabServer], tmp_path: Any
) -> None:
    async with lab_factory(TOKEN_ONLY_WRONG_PASSWORD) as lab:
        assert (await diagnose_lab(lab, tmp_path)).cause == "oauth-required"


async def test_without_the_auth_failed_override_it_stays_auth_failed(
    lab_factory: Callable[..., LabServer], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_rule(monkeypatch, "auth-failed", override=None)
    async with lab_factory(TOKEN_ONLY_WRONG_PASSWORD) as lab:
        assert (await diagnose_lab(lab, tmp_path)).cause == "auth-failed"


async def test_withheld_login_follows_the_override_data(
    lab_factory: Callable[..., LabServer], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No method we may use is offered (only XOAUTH2/OAUTHBEARER, no USER): nothing is sent.
    async with lab_factory("oauth-required") as lab:
        report = await diagnose_lab(lab, tmp_path)
    assert report.cause == "oauth-required"
    assert finding(report, "login").evidence["sasl"] == ["OAUTHBEARER", "XOAUTH2"]
    change_rule(monkeypatch, "auth-mechanism-unsupported", override=None)
    async with lab_factory("oauth-required") as lab:
        assert (await diagnose_lab(lab, tmp_path)).cause == "auth-mechanism-unsupported"


# -- which causes start the alternatives probe -------------------------------------------


async def test_not_pop3_at_the_greeting_probes_alternatives_because_the_data_says_so(
    lab_factory: Callable[..., LabServer], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with lab_factory("not-pop3") as lab:
        report = await diagnose_lab(lab, tmp_path, port=lab.port, security="starttls")
    assert report.cause == "not-pop3"
    assert "alternatives" in finding(report, "greeting").evidence
    change_rule(monkeypatch, "not-pop3", alternatives=frozenset())
    async with lab_factory("not-pop3") as lab:
        report = await diagnose_lab(lab, tmp_path, port=lab.port, security="starttls")
    assert report.cause == "not-pop3"
    assert "alternatives" not in finding(report, "greeting").evidence


async def test_a_refused_login_probes_alternatives_only_when_its_cause_asks(
    lab_factory: Callable[..., LabServer], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with lab_factory("wrong-password") as lab:
        report = await diagnose_lab(lab, tmp_path)
    assert "alternatives" not in finding(report, "login").evidence
    change_rule(monkeypatch, "auth-failed", alternatives=frozenset({"login"}))
    async with lab_factory("wrong-password") as lab:
        clear = await diagnose_lab(lab, tmp_path, port=lab.port, security="plain", allow_plaintext=True, auth="user")
        encrypted = await diagnose_lab(lab, tmp_path)
    assert clear.cause == "auth-failed"
    assert "alternatives" in finding(clear, "login").evidence
    # Refused over TLS: another port or mode would not change the login, so no probe.
    assert "alternatives" not in finding(encrypted, "login").evidence


# -- the data itself ---------------------------------------------------------------------


def test_rule_fields_name_known_points_and_causes() -> None:
    for cause in causes.all_causes().values():
        assert cause.alternatives <= set(causes.POINTS)
        if cause.override is not None:
            assert cause.override.at <= set(causes.POINTS) and cause.override.at
            assert cause.override.when in causes.CONDITIONS
            assert cause.override.becomes in causes.CAUSE_CODES


def test_rules_read_as_documented() -> None:
    auth_failed = causes.get_cause("auth-failed")
    assert auth_failed.reported_as("login", {"token-sasl-only"}) == "oauth-required"
    assert auth_failed.reported_as("login", set()) == "auth-failed"
    assert auth_failed.reported_as("login-withheld", {"token-sasl-only"}) == "auth-failed"
    assert causes.get_cause("tls-handshake-failed").probes_alternatives("implicit-tls")
    assert not causes.get_cause("tls-handshake-failed").probes_alternatives("starttls")
    assert not causes.get_cause("cert-expired").probes_alternatives("implicit-tls")


@pytest.mark.parametrize(
    "raw",
    [
        {"alternatives": ["nowhere"]},
        {"alternatives": "greeting"},
        {"override": {"when": "full-moon", "becomes": "ok", "at": ["login"]}},
        {"override": {"when": "token-sasl-only", "becomes": "oauth-required", "at": ["nowhere"]}},
    ],
)
def test_malformed_rule_fields_are_rejected(raw: dict[str, Any]) -> None:
    base = {
        "stage": "login", "severity": "fail",
        "title": {"ja": "題", "en": "t"}, "explanation": {"ja": "説明", "en": "e"},
        "remedy": [{"ja": "手順", "en": "r"}],
    }
    with pytest.raises(ValueError):
        causes._parse("x", base | raw)
