"""The step table: every step's inputs come from an earlier step, in report-stage order."""

from __future__ import annotations

import pytest

from pop3doctor.client import Security
from pop3doctor.diagnosis.model import STAGES, Settings
from pop3doctor.diagnosis.pipeline import STEPS, Step, _went_on
from pop3doctor.diagnosis.state import Options, Run, RunState


@pytest.mark.parametrize("security", list(Security))
def test_every_need_is_provided_earlier(security: Security) -> None:
    provided: set[str] = set()
    for step in STEPS[security]:
        assert set(step.needs) <= provided, (step.name, set(step.needs) - provided)
        provided |= set(step.provides)


@pytest.mark.parametrize("security", list(Security))
def test_each_field_has_one_provider(security: Security) -> None:
    providers = [name for step in STEPS[security] for name in step.provides]
    assert len(providers) == len(set(providers))


@pytest.mark.parametrize("security", list(Security))
def test_steps_cover_every_stage_once_in_mail_program_order(security: Security) -> None:
    stages = list(dict.fromkeys(step.stage for step in STEPS[security]))
    assert set(stages) == set(STAGES) - {"summary"}
    # With SSL/TLS encryption comes before the greeting; otherwise after it.
    assert (stages.index("tls") < stages.index("greeting")) == (security is Security.SSL)


def test_a_step_writing_an_undeclared_field_is_a_bug() -> None:
    state = RunState(Run(Settings("pop.example.jp", 995, "ssl", "alice"), None), Options(None))
    step = Step("x", "resolve", STEPS[Security.SSL][0].run, provides=("addresses",))
    before = state.provided()
    state.addresses = [("ipv4", "192.0.2.1")]
    assert _went_on(step, before, state)
    state.mechanism = "USER"
    with pytest.raises(RuntimeError):
        _went_on(step, before, state)


def test_a_step_that_provides_nothing_ends_the_run() -> None:
    state = RunState(Run(Settings("pop.example.jp", 995, "ssl", "alice"), None), Options(None))
    step = Step("x", "login", STEPS[Security.SSL][0].run, provides=("mechanism",))
    assert not _went_on(step, state.provided(), state)
