"""Every text discovery shows a user, in Japanese and English."""

from __future__ import annotations

from pop3doctor.i18n import catalog

_catalog = catalog("discovery")
#: ``NAME`` here is the entry NAME of messages/discovery.toml (AttributeError when there is none).
__getattr__ = _catalog.msg

SECURITY_NAMES = _catalog.group("SECURITY_NAMES")
SOURCE_NAMES = _catalog.group("SOURCE_NAMES")
CONFIDENCE_NAMES = _catalog.group("CONFIDENCE_NAMES")
STATUS_NAMES = _catalog.group("STATUS_NAMES")
