"""The French catalogue is complete and its compiled .mo matches the .po."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

LOCALE = Path(__file__).resolve().parent.parent / "src" / "permanence" / "locale"


def catalogue(lang: str):
    with open(LOCALE / lang / "LC_MESSAGES" / "django.po", "rb") as f:
        return read_po(f, locale=lang)


def test_every_french_message_is_translated_and_not_fuzzy():
    cat = catalogue("fr")
    def translated(m) -> bool:
        return bool(m.string) if isinstance(m.string, str) else all(m.string)

    untranslated = [m.id for m in cat if m.id and not translated(m)]
    fuzzy = [m.id for m in cat if m.id and m.fuzzy]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_compiled_catalogue_matches_source(lang):
    """A .po edited without recompiling the .mo would silently show stale text."""
    cat = catalogue(lang)
    with open(LOCALE / lang / "LC_MESSAGES" / "django.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    stale = []
    for m in cat:
        if not m.id:
            continue
        if isinstance(m.id, tuple):
            if m.string and all(m.string):
                got = (compiled.ngettext(m.id[0], m.id[1], 1), compiled.ngettext(m.id[0], m.id[1], 5))
                want = (m.string[0], m.string[1])
                if got != want:
                    stale.append(m.id)
        elif m.context:
            if m.string and compiled.pgettext(m.context, m.id) != m.string:
                stale.append((m.context, m.id))
        elif m.string and compiled.gettext(m.id) != m.string:
            stale.append(m.id)
    assert stale == [], "recompile with: msgfmt -o django.mo django.po"


def test_french_plural_rule_counts_zero_and_one_as_singular():
    with open(LOCALE / "fr" / "LC_MESSAGES" / "django.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    assert compiled.ngettext("%(counter)s contact", "%(counter)s contacts", 0) == "%(counter)s contact"
    assert compiled.ngettext("%(counter)s contact", "%(counter)s contacts", 2) == "%(counter)s contacts"
