"""A message's sensitive fields (health, legal): kept with the message, never sent.

The answers of the fields a scenario marks ``sensitive: true``, or that the account names
(``Account.sensitive_fields``), are stored where the message keeps its fields (``Message.fields``), and
``fields["_sensitive"]`` names them (name -> label). What leaves Permanence (the e-mail, the digest, the
SMS, the webhook's JSON, the push notification) carries neither their values nor their place in the
fields: a link instead, to the page where a signed-in user allowed to (``Perm.READ_SENSITIVE`` on the
message's account; a client collaborator, for a message addressed to them: ``may_read``) reads them, each
read written to the audit trail.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from permanence import policy
from permanence.accounts.phones import try_normalize
from permanence.directory.models import Collaborator
from permanence.messaging.models import Delivery

#: the key of ``Message.fields`` that names the sensitive fields (not a field name: those start with a letter)
KEY = "_sensitive"
#: an answer shorter than this is looked for as a whole word only (« VIH », not the "vih" of "vihuela")
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


def own_addresses(user: Any, account: Any) -> set[str]:
    """Where messages reach a user: their e-mail and the mobile of the account's collaborator who has
    that e-mail (lower case; numbers in E.164); none without an e-mail."""
    email = (getattr(user, "email", "") or "").strip().lower()
    if not email:
        return set()
    mobiles = Collaborator.objects.filter(account=account, email__iexact=email).exclude(mobile="")
    return {email, *(str(m).lower() for m in mobiles.values_list("mobile", flat=True) if m)}


def addressed_to(message: Any, addresses: set[str]) -> bool:
    """Is the message addressed to one of these addresses: among its recipients, its deliveries, or its
    escalation reminders' deliveries (the next person of the chain reads it too)?"""
    if not addresses:
        return False
    sent_to = set()
    for recipient in message.recipients or []:
        text = str(recipient).strip()
        number = None if "@" in text else try_normalize(text, settings.PHONE_DEFAULT_REGION)
        sent_to.add((number or text).lower())
    if sent_to & addresses:
        return True
    deliveries = Delivery.objects.filter(Q(message=message) | Q(message__parent=message))
    return any(a.strip().lower() in addresses for a in deliveries.values_list("address", flat=True))


def may_read(user: Any, message: Any, addresses: set[str] | None = None) -> bool:
    """May this user read the sensitive fields of a message of an account within their reach (the views
    look it up there)? ``Perm.READ_SENSITIVE``, and, for a client collaborator, a message addressed to
    them (``addresses``: ``own_addresses``, given when asked for many messages)."""
    if not policy.has_perm(user, policy.Perm.READ_SENSITIVE):
        return False
    if policy.reads_every_sensitive(user):
        return True
    return addressed_to(message, own_addresses(user, message.account) if addresses is None else addresses)


def _fold(text: str) -> str:
    """Lower case, no accents, spaces collapsed: how a sensitive answer is looked for in a text."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.split())


def leaked(answers: Iterable[Mapping[str, Any]], *texts: str) -> str | None:
    """The label of the first sensitive answer written in one of ``texts`` (as typed or as shown), case
    and accents aside. An answer shorter than ``SHORTEST`` counts as a whole word only, and only when it
    has a letter; a one-character answer, a short figure and a yes/no answer are not looked for (an « a »,
    a « 12 » or a « non » would refuse every message with a date, a phone number or « non vérifiée »)."""
    haystack = _fold(" ".join(texts))
    for answer in answers:
        if isinstance(answer.get("value"), bool):
            continue
        for shown in {str(answer.get("value", "")), str(answer.get("text", ""))}:
            needle = _fold(shown)
            if len(needle) < 2 or (len(needle) < SHORTEST and not any(c.isalpha() for c in needle)):
                continue
            if len(needle) >= SHORTEST:
                found = needle in haystack
            else:
                found = re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None
            if found:
                return str(answer.get("label", ""))
    return None
