"""Mail-host labels from knowledge data: what guessing tries and what names a mail host."""

from __future__ import annotations

from pop3doctor.client import Security
from pop3doctor.discovery.address import parse_address
from pop3doctor.discovery.guess import GuessPorts, candidates_for
from pop3doctor.knowledge.hostnames import domain_candidates, is_mail_host_label, mail_host_prefixes


def test_prefixes_are_the_documented_pop3_labels_best_first() -> None:
    assert mail_host_prefixes() == ("pop", "pop3", "mail")


def test_guessing_tries_each_prefix_then_the_bare_domain_tls_first() -> None:
    combos = candidates_for(parse_address("a@example.test"), GuessPorts(ssl=995, starttls=110))
    hosts = ["pop.example.test", "pop3.example.test", "mail.example.test", "example.test"]
    assert combos == [(h, p, s) for h in hosts for p, s in ((995, Security.SSL), (110, Security.STARTTLS))]


def test_domain_candidates_use_the_same_prefixes() -> None:
    assert domain_candidates("Example.Test.") == ["pop.example.test", "pop3.example.test", "mail.example.test"]


def test_mail_host_labels_include_the_prefixes_and_role_names() -> None:
    for label in ("pop", "POP3", "mail", "pop-mail", "mx", "in", "incoming"):
        assert is_mail_host_label(label)
    for label in ("www", "example", "imap"):
        assert not is_mail_host_label(label)
