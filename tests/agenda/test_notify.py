"""Confirmation, cancellation and reminder messages to the caller, through the dispatch."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from permanence.agenda import notify, services
from permanence.agenda.models import AppointmentType
from permanence.directory.models import Collaborator
from permanence.messaging.models import Message

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 4, 10, tzinfo=PARIS)  # a Friday
MONDAY_10 = datetime(2026, 12, 7, 10, tzinfo=PARIS)


@pytest.fixture
def kind(alpha):
    anne = Collaborator.objects.get(account=alpha)
    kind = AppointmentType.objects.create(
        account=alpha, name="Consultation", min_notice_minutes=0, horizon_days=30
    )
    kind.collaborators.add(anne)
    return kind


def book(kind, start=MONDAY_10, **caller):
    anne = kind.collaborators.get()
    return services.book(kind, anne, start, now=NOW, caller=services.Caller(**caller))


def test_confirmation_by_email_with_the_types_text(alpha, kind):
    booked = book(kind, name="Jean Dupont", email="jean@example.fr")
    message = Message.objects.get()
    assert message.subject == "Cabinet Alpha : rendez-vous confirmé"  # the account's language (French)
    assert message.body == (
        "Cabinet Alpha : votre rendez-vous (Consultation) avec Maître Anne Alphonse est confirmé "
        "le lundi 7 décembre à 10:00 (Au cabinet). Pour le modifier, appelez-nous."
    )
    assert message.fields == {"appointment": str(booked.uid), "notice": "booked"}
    assert [(d.channel, d.address) for d in message.deliveries.all()] == [("email", "jean@example.fr")]


def test_sms_only_to_a_mobile(alpha, kind):
    book(kind, phone="01 45 00 00 02")  # a landline: nothing to send to
    assert not Message.objects.exists()
    book(kind, MONDAY_10 + timedelta(hours=2), phone="06 12 34 56 78")
    assert [(d.channel, d.address) for d in Message.objects.get().deliveries.all()] == [
        ("sms", "+33612345678")
    ]


def test_reminder_once_the_day_before_and_again_after_a_move(alpha, kind):
    booked = book(kind, email="jean@example.fr")
    Message.objects.all().delete()
    assert notify.send_due_reminders(MONDAY_10 - timedelta(hours=25)) == 0
    assert notify.send_due_reminders(MONDAY_10 - timedelta(hours=24)) == 1
    assert notify.send_due_reminders(MONDAY_10 - timedelta(hours=23)) == 0  # once
    reminder = Message.objects.get()
    assert reminder.subject == "Cabinet Alpha : rappel de rendez-vous"
    assert reminder.fields["notice"] == "reminder"
    assert "le lundi 7 décembre à 10:00" in reminder.body
    moved = services.reschedule(booked, MONDAY_10 + timedelta(days=1), now=NOW)
    assert Message.objects.filter(fields__notice="moved").count() == 1
    assert moved.reminder_sent_at is None
    assert notify.send_due_reminders(MONDAY_10 + timedelta(hours=1)) == 1


def test_no_reminder_when_booked_within_its_notice_nor_when_cancelled(alpha, kind):
    soon = services.book(
        kind,
        kind.collaborators.get(),
        NOW + timedelta(hours=3),
        now=NOW,
        caller=services.Caller(email="a@example.fr"),
    )
    assert soon.reminder_sent_at == NOW
    later = book(kind, email="b@example.fr")
    services.cancel(later, now=NOW)
    assert Message.objects.filter(fields__notice="cancelled").count() == 1
    assert notify.send_due_reminders(MONDAY_10 - timedelta(hours=2)) == 0


def test_texts_are_checked(alpha, kind):
    kind.reminder_text = "Rendez-vous {{ quand }}"
    with pytest.raises(ValidationError, match="Unknown variable"):
        kind.full_clean()
    kind.reminder_text = "Rendez-vous {{ when "
    with pytest.raises(ValidationError):
        kind.full_clean()
    kind.reminder_text = ""
    kind.full_clean()  # empty: no reminder
    booked = book(kind, email="c@example.fr")
    assert booked.reminder_sent_at is not None


def test_the_notices_follow_the_accounts_language_not_the_pages(alpha, kind):
    """An English account's caller reads the subject, the date and the cancellation in English on a
    French page; a French account's caller reads the date in French on an English page (the type's own
    text is sent as written)."""
    from django.utils import translation

    alpha.language = "en"
    alpha.save(update_fields=["language"])
    kind.confirmation_text = "{{ account }}: see you on {{ when }}."
    kind.save()
    with translation.override("fr"):
        booked = book(kind, email="jean@example.fr")
        services.cancel(booked, now=NOW)
    confirmed, cancelled = Message.objects.order_by("pk")
    assert confirmed.subject == "Cabinet Alpha: appointment confirmed"
    assert confirmed.body == "Cabinet Alpha: see you on Monday 7 December at 10:00\u202fAM."
    assert cancelled.subject == "Cabinet Alpha: appointment cancelled"
    assert cancelled.body == (
        "Cabinet Alpha: your appointment (Consultation) of Monday 7 December at 10:00\u202fAM is cancelled."
    )
    Message.objects.all().delete()
    alpha.language = "fr"
    alpha.save(update_fields=["language"])
    with translation.override("en"):
        book(kind, MONDAY_10 + timedelta(hours=2), email="jean@example.fr")
    assert Message.objects.get().body == "Cabinet Alpha: see you on lundi 7 décembre à 12:00."
