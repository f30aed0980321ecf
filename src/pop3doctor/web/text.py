"""Every word the web page shows that the diagnosis does not already provide, in ja and en.

Stage names, status words, verdicts and cause texts come from
`pop3doctor.diagnosis.text` and the knowledge base; this module holds only the
page's own labels, hints and messages.
"""

from __future__ import annotations

from pop3doctor.i18n import catalog

_catalog = catalog("web")
#: ``NAME`` here is the entry NAME of messages/web.toml (AttributeError when there is none).
__getattr__ = _catalog.msg

#: Labels and hints rendered into the page (template name -> text).
UI = _catalog.group("UI")
