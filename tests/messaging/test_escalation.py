"""Urgent messages: acknowledged by a signed link, else escalated down the list, then back to the desk."""

import email
from datetime import timedelta
from email import policy

from django.db import transaction
from django.test import Client

from permanence.messaging import escalation, outbox
from permanence.messaging.models import Acknowledgement, CallbackTask, Delivery, EscalationPolicy, Message


def urgent(alpha, **kw):
    with transaction.atomic():
        return outbox.queue_message(
            alpha,
            subject="Fuite d'eau",
            body="Rappeler M. Martin.",
            recipients=["anne@alpha.example"],
            urgent=True,
            **kw,
        )


def test_escalation_follows_the_list_then_returns_to_the_desk(alpha):
    EscalationPolicy.objects.create(
        account=alpha, delay_minutes=15, steps=["boss@alpha.example", "06 99 88 77 66"]
    )
    message = urgent(alpha)
    t0 = message.created
    assert escalation.escalate(t0 + timedelta(minutes=14)) == 0
    assert escalation.escalate(t0 + timedelta(minutes=15)) == 1
    first = Message.objects.get(parent=message)
    assert first.subject == "Relance 1 : Fuite d'eau"  # in the account's language (French)
    assert first.deliveries.get().address == "boss@alpha.example"
    assert escalation.escalate(t0 + timedelta(minutes=20)) == 0  # not twice for the same level
    assert escalation.escalate(t0 + timedelta(minutes=30)) == 1
    second = Message.objects.filter(parent=message).order_by("-pk").first()
    assert (second.deliveries.get().channel, second.deliveries.get().address) == ("sms", "+33699887766")
    assert escalation.escalate(t0 + timedelta(minutes=45)) == 1
    task = CallbackTask.objects.get(message=message)
    assert task.account == alpha and task.done_at is None
    assert escalation.escalate(t0 + timedelta(hours=5)) == 0  # over: nothing more


def test_acknowledgement_stops_the_escalation(alpha):
    EscalationPolicy.objects.create(account=alpha, delay_minutes=10, steps=["boss@alpha.example"])
    message = urgent(alpha)
    escalation.acknowledge(message, "anne@alpha.example", now=message.created + timedelta(minutes=5))
    assert escalation.escalate(message.created + timedelta(hours=1)) == 0
    assert not Message.objects.filter(parent=message).exists() and not CallbackTask.objects.exists()


def test_normal_messages_and_relaunches_are_not_escalated(alpha):
    with transaction.atomic():
        outbox.queue_message(alpha, subject="S", body="B", recipients=["a@b.fr"])
    message = urgent(alpha)
    escalation.escalate(message.created + timedelta(minutes=15))  # default policy: 15 min, no list
    assert CallbackTask.objects.count() == 1 and Message.objects.filter(parent__isnull=False).count() == 0


def test_signed_link_acknowledges_only_after_a_post(alpha, smtp):
    message = urgent(alpha)
    delivery = message.deliveries.get()
    assert outbox.attempt(delivery.pk) == "sent"
    parsed = email.message_from_bytes(smtp.envelopes[0].original_content, policy=policy.default)
    text = parsed.get_body(("plain",)).get_content()
    link = text.split("Confirmez la lecture de ce message urgent : ")[1].split()[0]
    path = link.removeprefix("http://127.0.0.1:8000")
    client = Client()
    page = client.get(path)
    assert page.status_code == 200 and "Fuite d&#x27;eau" in page.content.decode()
    assert not Acknowledgement.objects.exists()  # a mail scanner following the link acknowledges nothing
    assert "marqué comme lu" in client.post(path).content.decode()
    assert Acknowledgement.objects.get(message=message).by == "anne@alpha.example"
    assert client.get(path[:-5] + "xxxx/").status_code == 404


def test_a_relaunch_link_acknowledges_the_original(alpha):
    EscalationPolicy.objects.create(account=alpha, delay_minutes=1, steps=["boss@alpha.example"])
    message = urgent(alpha)
    escalation.escalate(message.created + timedelta(minutes=1))
    relaunch = Message.objects.get(parent=message)
    token = escalation.ack_token(relaunch, "boss@alpha.example")
    Client().post(f"/ack/{token}/")
    assert Acknowledgement.objects.get().message == message
    assert Delivery.objects.filter(message=relaunch).count() == 1


def test_the_desk_lists_call_backs_and_marks_them_done(personas, alpha, beta):
    message = urgent(alpha)
    escalation.escalate(message.created + timedelta(minutes=15))
    task = CallbackTask.objects.get()
    secretary = Client()
    secretary.force_login(personas["secretary"])
    page = secretary.get("/desk/").content.decode()
    assert 'data-testid="callbacks"' in page and "Fuite d&#x27;eau" in page
    other = Client()
    other.force_login(personas["secretary_beta"])  # not trained on Alpha: neither sees nor closes it
    assert 'data-testid="callbacks"' not in other.get("/desk/").content.decode()
    assert other.post(f"/desk/callbacks/{task.pk}/done").status_code == 404
    secretary.post(f"/desk/callbacks/{task.pk}/done")
    task.refresh_from_db()
    assert task.done_at is not None and task.done_by == personas["secretary"]


def test_messages_page_shows_deliveries_filters_and_resends(personas, alpha, smtp):
    message = urgent(alpha)
    with transaction.atomic():
        outbox.queue_message(alpha, subject="Devis cuisine", body="Rappeler", recipients=["b@alpha.example"])
    delivery = message.deliveries.get()
    smtp.reply = "550 5.1.1 No such user"
    assert outbox.attempt(delivery.pk) == "dead"
    client = Client()
    client.force_login(personas["client_admin"])
    page = client.get("/a/alpha/messages/").content.decode()
    assert "Fuite d&#x27;eau" in page and "Devis cuisine" in page and "Échec définitif" in page
    assert "non confirmé" in page
    filtered = client.get("/a/alpha/messages/?urgent=1").content.decode()
    assert "Fuite d&#x27;eau" in filtered and "Devis cuisine" not in filtered
    assert "Devis cuisine" in client.get("/a/alpha/messages/?q=cuisine").content.decode()
    smtp.reply = None
    client.post(f"/a/alpha/messages/{message.pk}/resend")
    delivery.refresh_from_db()
    assert delivery.status == "queued" and outbox.attempt(delivery.pk) == "sent"
    client.post(f"/a/alpha/messages/{message.pk}/acknowledge")
    assert Acknowledgement.objects.get(message=message).by == "client_admin"


def test_an_urgent_message_escalates_to_whoever_is_on_call(alpha, personas):
    from datetime import date

    from permanence.directory import actions
    from permanence.directory.models import Collaborator, Service

    urgences = Service.objects.create(account=alpha, name="Urgences")
    anne = Collaborator.objects.get(account=alpha)
    anne.mobile = "+33611000001"
    anne.save()
    bruno = Collaborator.objects.create(account=alpha, last_name="Durand", mobile="+33611000002")
    actions.save_rota(urgences, members=[anne, bruno], covers=["nights"], first_day=date(2026, 10, 19))
    client = Client()
    client.force_login(personas["client_admin"])
    refused = client.post("/a/alpha/messages/settings/escalation",
                          {"delay_minutes": "15", "steps_text": "astreinte: Compta"})
    assert refused.status_code == 400 and "Urgences" in refused.content.decode()
    saved = client.post("/a/alpha/messages/settings/escalation",
                        {"delay_minutes": "15", "steps_text": "Astreinte : urgences\nboss@alpha.example"})
    assert saved.status_code == 302
    assert EscalationPolicy.objects.get(account=alpha).steps == ["on_call:Urgences", "boss@alpha.example"]
    assert "astreinte: Urgences" in client.get("/a/alpha/messages/settings/").content.decode()

    message = urgent(alpha)
    night = message.created.replace(year=2026, month=10, day=28, hour=21, minute=0)  # 22:00 in Paris
    Message.objects.filter(pk=message.pk).update(created=night)
    assert escalation.escalate(night + timedelta(minutes=15)) == 1
    relaunch = Message.objects.get(parent=message)
    assert relaunch.deliveries.get().address == "+33611000002"  # Bruno's week
    # in the daytime nobody is on call: that level is passed, the next one follows
    escalation.acknowledge(message, "bruno")
    day = night.replace(day=29, hour=10)
    second = urgent(alpha)
    Message.objects.filter(pk=second.pk).update(created=day)
    assert escalation.escalate(day + timedelta(minutes=15)) == 1
    assert not Message.objects.filter(parent=second).exists()
    assert escalation.escalate(day + timedelta(minutes=30)) == 1
    assert Message.objects.get(parent=second).deliveries.get().address == "boss@alpha.example"
