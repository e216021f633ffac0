"""Whether the French catalogue has a message yet. New messages are written in English (the source
language) and their French is merged into the .po files afterwards: a test asserts the French text once
the catalogue has it, and the English text meanwhile."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext, pgettext


def has_french(msgid: str, context: str | None = None) -> bool:
    with translation.override("fr"):
        said = pgettext(context, msgid) if context else gettext(msgid)
    return said != msgid
