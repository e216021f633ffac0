"""A message's sensitive fields (health, legal): kept with the message, never sent.

The answers of the fields a scenario marks ``sensitive: true``, or that the account names
(``Account.sensitive_fields``), are stored where the message keeps its fields (``Message.fields``), and
``fields["_sensitive"]`` names them (name -> label). What leaves Permanence (the e-mail, the digest, the
SMS, the webhook's JSON, the push notification) carries neither their values nor their place in the
fields: a link instead, to the page where a signed-in user allowed to (``Perm.READ_SENSITIVE`` on the
message's account) reads them, each read written to the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.urls import reverse

#: the key of ``Message.fields`` that names the sensitive fields (not a field name: those start with a letter)
KEY = "_sensitive"
#: an answer shorter than this is not looked for in the text (a "non" would be everywhere)
SHORTEST = 4


def marked(fields: Any) -> dict[str, str]:
    """The sensitive fields of a message's fields: name -> label."""
    if not isinstance(fields, Mapping):
        return {}
    names = fields.get(KEY)
    if not isinstance(names, Mapping):
        return {}
    return {str(name): str(label) for name, label in names.items()}


def public_fields(fields: Any) -> dict[str, Any]:
    """The fields that may leave Permanence: without the sensitive ones, nor the list of them."""
    if not isinstance(fields, Mapping):
        return {}
    hidden = set(marked(fields))
    return {name: value for name, value in fields.items() if name != KEY and name not in hidden}


def values(fields: Any) -> list[tuple[str, str, Any]]:
    """(name, label, value) of the sensitive fields answered, for the page that shows them."""
    if not isinstance(fields, Mapping):
        return []
    return [(name, label, fields.get(name)) for name, label in marked(fields).items()
            if fields.get(name) not in (None, "")]


def with_sensitive(fields: Mapping[str, Any], answers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A message's fields with the sensitive answers (the run's ``sensitive_answers``) and their list."""
    out = dict(fields)
    named = {}
    for answer in answers:
        out[answer["name"]] = answer["value"]
        named[answer["name"]] = answer["label"]
    if named:
        out[KEY] = named
    return out


def read_url(message: Any) -> str:
    """Where a message's sensitive fields are read, signed in; "" when it has none. An escalation's
    reminder leads to the message it reminds of."""
    root = message.parent if getattr(message, "parent_id", None) else message
    if not marked(root.fields):
        return ""
    base = getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    return base + reverse("message_sensitive", args=[root.account.slug, root.pk])


def leaked(answers: Iterable[Mapping[str, Any]], *texts: str) -> str | None:
    """The label of the first sensitive answer written in one of ``texts`` (as typed or as shown)."""
    haystack = " ".join(" ".join(t.split()) for t in texts).casefold()
    for answer in answers:
        for shown in {str(answer.get("value", "")), str(answer.get("text", ""))}:
            needle = " ".join(shown.split()).casefold()
            if len(needle) >= SHORTEST and needle in haystack:
                return str(answer.get("label", ""))
    return None
