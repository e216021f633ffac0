"""The caller's satisfaction (CSAT), for the accounts that ask for it: a few minutes after a call from a
mobile, one question by SMS through the account's SMS provider; the caller replies 1 to 5 (or STOP). The
worker's ``surveys`` step sends; the inbound SMS webhooks take the replies; the figures count them.

Restraint is the rule: only real calls answered by a secretary, only to a mobile number, once a month at
most per number, never to a number that said STOP, never at night (a call that ends after 20:00 gets
none), never to a caller the contacts mark as blocked.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, time, timedelta
from typing import Any

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from permanence.audit import trail
from permanence.audit.models import Action
from permanence.calls.models import Call
from permanence.messaging import channels
from permanence.messaging.models import Survey, SurveyOptOut
from permanence.reporting import kpis

logger = logging.getLogger(__name__)

AFTER = timedelta(minutes=2)  # after the end of the call
WITHIN = timedelta(hours=2)  # later than this, no survey: the caller would not remember
ANSWER_WITHIN = timedelta(hours=48)
ONCE_PER = timedelta(days=30)
DAYTIME = (time(8, 0), time(20, 0))  # local time of the account
_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$")
_STOP = re.compile(r"^\s*(stop|arret|arrêt|unsubscribe)\b", re.IGNORECASE)


def _is_mobile(number: str) -> bool:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(parsed) in (phonenumbers.PhoneNumberType.MOBILE,
                                                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def question(account: Any) -> str:
    with translation.override(channels.client_language(account)):
        asked = account.csat_question.strip() or _("How satisfied are you with how your call was handled?")
        return _("%(name)s: %(question)s Reply with a figure from 1 (not at all) to 5 (very). "
                 "STOP: no more surveys.") % {"name": account.name, "question": asked}


def due(now: datetime) -> list[Call]:
    """The calls whose survey is due now (see the module's text)."""
    asked = Survey.objects.filter(sent_at__gte=now - ONCE_PER,
                                  status__in=(Survey.Status.SENT, Survey.Status.ANSWERED)).values("address")
    calls = (Call.objects.filter(account__csat_survey=True, training=False, secretary__isnull=False,
                                 answered_at__isnull=False, ended_at__gte=now - WITHIN,
                                 ended_at__lte=now - AFTER, survey__isnull=True)
             .exclude(caller="").exclude(caller__in=SurveyOptOut.objects.values("address"))
             .exclude(caller__in=asked).select_related("account").order_by("ended_at"))
    return list(calls)


def _blocked(call: Call) -> bool:
    from permanence.contacts.models import Contact

    return any(contact.is_blocked for contact in
               Contact.objects.filter(account=call.account, numbers__number=call.caller))


def _may_ask(call: Call, now: datetime) -> bool:
    assert call.ended_at is not None
    local_end = call.ended_at.astimezone(call.account.tz).time()
    local_now = now.astimezone(call.account.tz).time()
    if not (DAYTIME[0] <= local_end < DAYTIME[1] and DAYTIME[0] <= local_now < DAYTIME[1]):
        return False
    if not _is_mobile(call.caller) or SurveyOptOut.objects.filter(address=call.caller).exists():
        return False
    if Survey.objects.filter(address=call.caller, sent_at__gte=now - ONCE_PER,
                             status__in=(Survey.Status.SENT, Survey.Status.ANSWERED)).exists():
        return False  # asked already this month (one that could not be sent does not count)
    return not _blocked(call)


def send_due(now: datetime | None = None) -> int:
    """Send the surveys that are due (the worker's ``surveys`` step); safe to run twice at once (one
    survey per call, the row made before the SMS leaves). Returns how many were sent."""
    now = now or timezone.now()
    name = getattr(settings, "SMS_PROVIDER", "http")
    registry = channels.SMS_PROVIDER_REGISTRY
    provider = registry.get(name) if name in registry else None
    sent = 0
    for call in due(now):
        if not _may_ask(call, now):
            continue
        try:
            with transaction.atomic():
                survey = Survey.objects.create(call=call, account=call.account, address=call.caller,
                                               sent_at=now)
        except IntegrityError:
            continue  # another worker took it
        if provider is None:
            result = channels.Result(False, retry=False, reason="unknown SMS_PROVIDER")
        else:
            result = provider.send_sms(survey, question(call.account))  # type: ignore[arg-type]
        if result.ok:
            sent += 1
        else:
            Survey.objects.filter(pk=survey.pk).update(status=Survey.Status.FAILED,
                                                       reason=result.reason[:300])
            logger.warning("survey of call %s not sent: %s", call.pk, result.reason)
    return sent


def answer_by_reply(number: str, text: str, now: datetime | None = None) -> Survey | None:
    """An SMS from ``number``: a figure 1-5 answers the latest survey sent to it and not yet answered
    (within two days); STOP says never again. The survey answered, or None (not a survey's answer)."""
    now = now or timezone.now()
    if not number:
        return None
    waiting = (Survey.objects.filter(address=number, status=Survey.Status.SENT,
                                     sent_at__gte=now - ANSWER_WITHIN).order_by("-sent_at").first())
    if _STOP.match(text or "") and (waiting or Survey.objects.filter(address=number).exists()):
        SurveyOptOut.objects.get_or_create(address=number)
        trail.record(None, Action.UPDATE, object_type="messaging.surveyoptout",
                     object_repr=number[:-4] + "****", reply="STOP")
        return waiting
    match = _RATING.match(text or "")
    if waiting is None or match is None:
        return None
    with transaction.atomic():
        updated = Survey.objects.filter(pk=waiting.pk, status=Survey.Status.SENT).update(
            status=Survey.Status.ANSWERED, rating=int(match.group(1)), answered_at=now)
    if not updated:
        return None
    waiting.refresh_from_db()
    return waiting


def csat(start: datetime, end: datetime, *, account: Any = None) -> kpis.Csat:
    """The answers to the surveys of the calls that ended in [start, end)."""
    rows = Survey.objects.filter(Q(call__ended_at__gte=start) & Q(call__ended_at__lt=end),
                                 status=Survey.Status.ANSWERED)
    if account is not None:
        rows = rows.filter(account=account)
    return kpis.csat(rows.values_list("rating", flat=True))


def csat_by_account(start: datetime, end: datetime) -> dict[int, kpis.Csat]:
    """``csat`` of every account at once, by id (one query for a list of accounts; an account with no
    answer is left out: ``csat(...)`` of nothing)."""
    rows = Survey.objects.filter(Q(call__ended_at__gte=start) & Q(call__ended_at__lt=end),
                                 status=Survey.Status.ANSWERED)
    ratings: dict[int, list[Any]] = {}
    for account_id, rating in rows.values_list("account_id", "rating"):
        ratings.setdefault(account_id, []).append(rating)
    return {account_id: kpis.csat(found) for account_id, found in ratings.items()}
