"""A collaborator's preferences decide channels and timing; the daily digest arrives as one e-mail."""

import email
from datetime import UTC, datetime, time
from email import policy

from django.db import transaction
from django_tasks_db.models import DBTaskResult

from permanence.directory.models import Collaborator
from permanence.messaging import outbox
from permanence.messaging.models import Delivery, DeliveryPreference

NOON = datetime(2026, 12, 1, 11, tzinfo=UTC)  # 12:00 in Paris


def person(account, **wishes):
    anne = Collaborator.objects.get(account=account, last_name="Alphonse")
    anne.email, anne.mobile = "anne@alpha.example", "+33611223344"
    anne.save()
    if wishes:
        DeliveryPreference.objects.create(collaborator=anne, **wishes)
    return anne


def queue(account, now=NOON, **kw):
    defaults = {"subject": "Appel de Jean Dupont", "body": "Rappeler au 06 12 34 56 78.", "now": now}
    defaults.setdefault("recipients", ["anne@alpha.example"])
    with transaction.atomic():
        return outbox.queue_message(account, **(defaults | kw))


def routes(message):
    return sorted((d.channel, d.address, d.next_attempt_at.astimezone(UTC)) for d in message.deliveries.all())


def test_without_preferences_the_address_given_is_used_at_once(alpha):
    person(alpha)
    assert routes(queue(alpha, urgent=True)) == [("email", "anne@alpha.example", NOON)]


def test_channels_chosen_for_normal_and_urgent_messages(alpha):
    person(alpha, normal_email=True, normal_sms=False, urgent_email=True, urgent_sms=True)
    assert routes(queue(alpha)) == [("email", "anne@alpha.example", NOON)]
    # written to her mobile number or to her e-mail: the same person, the same wishes
    assert routes(queue(alpha, urgent=True, recipients=["06 11 22 33 44"])) == [
        ("email", "anne@alpha.example", NOON),
        ("sms", "+33611223344", NOON),
    ]


def test_quiet_hours_hold_normal_messages_and_their_task(alpha, smtp):
    person(alpha, quiet_start=time(12), quiet_end=time(14))
    message = queue(alpha)
    two_pm = datetime(2026, 12, 1, 13, tzinfo=UTC)
    assert routes(message) == [("email", "anne@alpha.example", two_pm)]
    delivery = message.deliveries.get()
    task = DBTaskResult.objects.get(args_kwargs__args=[delivery.pk])
    assert task.run_after == two_pm  # the worker will not even look at it before
    assert outbox.attempt(delivery.pk, now=NOON) == "not_due" and smtp.envelopes == []
    assert outbox.attempt(delivery.pk, now=two_pm) == "sent" and len(smtp.envelopes) == 1
    # urgent messages are not held
    assert routes(queue(alpha, urgent=True))[0][2] == NOON


def test_daily_digest_gathers_normal_messages_in_one_email(alpha, smtp):
    person(alpha, digest=True, digest_at=time(18))
    evening = datetime(2026, 12, 1, 17, tzinfo=UTC)  # 18:00 in Paris
    first = queue(alpha, subject="Appel de Jean Dupont")
    second = queue(alpha, subject="Appel de Lucie Martin", body="Devis à envoyer.")
    urgent = queue(alpha, subject="Fuite d'eau", urgent=True)
    assert routes(first) == [("digest", "anne@alpha.example", evening)]
    assert routes(urgent) == [("email", "anne@alpha.example", NOON), ("sms", "+33611223344", NOON)]
    [d1] = first.deliveries.all()
    [d2] = second.deliveries.all()
    assert outbox.attempt(d2.pk, now=evening) == "sent"  # whichever task comes first sends them all
    assert outbox.attempt(d1.pk, now=evening) == "sent"  # the other finds its work done
    [envelope] = smtp.envelopes
    parsed = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert parsed["Subject"] == "Cabinet Alpha · 2 messages (01/12/2026)"
    assert parsed["Message-ID"] == f"<{d2.key}@permanence.invalid>"  # the key of the task that sent it
    assert parsed["X-Permanence-Delivery"] == f"{d2.key}, {d1.key}"
    text = parsed.get_body(("plain",)).get_content()
    assert text.index("01/12 12:00 · Appel de Jean Dupont") < text.index(
        "01/12 12:00 · Appel de Lucie Martin"
    )
    assert "Devis à envoyer." in text and "Fuite" not in text
    for delivery in (d1, d2):
        delivery.refresh_from_db()
        assert delivery.status == "sent" and delivery.attempts == 1
    first.refresh_from_db()
    assert first.status == "sent"


def test_the_digest_retries_together(alpha, smtp):
    person(alpha, digest=True, digest_at=time(18))
    evening = datetime(2026, 12, 1, 17, tzinfo=UTC)
    d1 = queue(alpha).deliveries.get()
    d2 = queue(alpha).deliveries.get()
    smtp.reply = "451 try later"
    assert outbox.attempt(d1.pk, now=evening) == "failed"
    assert set(Delivery.objects.filter(pk__in=[d1.pk, d2.pk]).values_list("status", flat=True)) == {"failed"}
    smtp.reply = None
    later = max(Delivery.objects.filter(pk__in=[d1.pk, d2.pk]).values_list("next_attempt_at", flat=True))
    assert outbox.attempt(d2.pk, now=later) == "sent"
    assert len(smtp.envelopes) == 1
    assert Delivery.objects.get(pk=d1.pk).status == "sent"


def test_another_accounts_digest_is_never_mixed_in(alpha, beta, smtp):
    person(alpha, digest=True, digest_at=time(18))
    bruno = Collaborator.objects.get(account=beta)
    bruno.email = "anne@alpha.example"  # the same address, another client
    bruno.save()
    DeliveryPreference.objects.create(collaborator=bruno, digest=True, digest_at=time(18))
    evening = datetime(2026, 12, 1, 17, tzinfo=UTC)
    ours = queue(alpha).deliveries.get()
    theirs = queue(beta).deliveries.get()
    assert outbox.attempt(ours.pk, now=evening) == "sent"
    assert Delivery.objects.get(pk=theirs.pk).status == "queued"
    assert outbox.attempt(theirs.pk, now=evening) == "sent"
    assert [e.rcpt_tos for e in smtp.envelopes] == [["anne@alpha.example"]] * 2
