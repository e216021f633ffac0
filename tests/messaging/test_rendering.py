"""What the client reads: a call report opens with a header (when the call came, in the account's time
zone; who called; the priority; the transfers tried and what came of them; who took the call) above
the text the secretary wrote, in the e-mail (text and HTML), compactly in the SMS, and as JSON in the
webhook. Sent through the real peers (an SMTP server, an HTTP receiver).

Texts are in the account's language (``Account.language``), French by default. The exact French texts
are asserted once the French catalogue has the header's entries (``french`` fixture: it skips until the
locale files are merged); the exact texts are asserted in English meanwhile (``english``: the account's
language), and the parts that do not come from the catalogue (dates, numbers, names) in French."""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime, timedelta
from email import policy
from urllib.parse import parse_qs

import pytest
from django.db import transaction
from django.utils import translation
from django.utils.translation import pgettext

from factories import make_account, make_contact, make_user
from permanence.calls import services
from permanence.calls.lifecycle import Kind
from permanence.calls.models import Call
from permanence.messaging import channels, outbox, sms
from permanence.messaging.models import Delivery, WebhookEndpoint
from permanence.users.models import Role

WINTER = datetime(2026, 12, 8, 9, 5, tzinfo=UTC)  # Tuesday 8 December 2026, 10:05 in Paris
BODY = "Rappeler au 06 12 34 56 78.\nDossier 2024/0153."


@pytest.fixture
def sophie(db):
    return make_user("sophie", Role.SECRETARY, first_name="Sophie", last_name="Marchand")


@pytest.fixture
def english(alpha):
    """Alpha's texts in English (``Account.language``) while the site and the page stay French."""
    alpha.language = "en"
    alpha.save(update_fields=["language"])


@pytest.fixture
def french():
    with translation.override("fr"):
        ready = pgettext("message header", "Caller:") != "Caller:"
    if not ready:
        pytest.skip("the French catalogue has no entry for the message header yet (merged with the locales)")


def take_call(account, secretary=None, *, caller="+33612345678", at=WINTER, transfers=(), training=False):
    """A call as the desk leaves it: arrived, answered by ``secretary``, transfers tried (to, result;
    a result None: the call ended while the transfer rang), ended."""
    with transaction.atomic():
        call = Call.objects.create(account=account, called="+33145000001", caller=caller, training=training)
        services.record(call, Kind.ARRIVED, at=at)
        services.record(call, Kind.QUEUED, at=at)
        if secretary is None:
            return call
        services.record(call, Kind.OFFERED, at=at + timedelta(seconds=5), secretary=secretary)
        services.record(call, Kind.ANSWERED, at=at + timedelta(seconds=9), secretary=secretary)
        moment = at + timedelta(minutes=1)
        for to, result in transfers:
            services.record(call, Kind.TRANSFER_REQUESTED, at=moment, secretary=secretary, to=to)
            if result:
                services.record(call, Kind.TRANSFER_RESULT, at=moment, secretary=secretary, result=result)
            moment += timedelta(seconds=30)
        if call.state != "wrap_up":
            services.record(call, Kind.ENDED, at=moment, secretary=secretary)
    return call


def report(account, call=None, **kw):
    defaults = {"subject": "Appel de Jean Dupont", "body": BODY, "recipients": ["anne@alpha.example"]}
    with transaction.atomic():
        return outbox.queue_message(
            account, call=call, author=call.secretary if call else None, **(defaults | kw)
        )


def sent_email(smtp, message):
    """Send the message's e-mail delivery through the SMTP server; the e-mail as received."""
    delivery = message.deliveries.get(channel="email")
    assert outbox.attempt(delivery.pk) == "sent"
    parsed = email.message_from_bytes(smtp.envelopes[-1].original_content, policy=policy.default)
    text = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")  # SMTP's line endings
    return parsed["Subject"], text, parsed.get_body(("html",)).get_content()


@pytest.fixture
def jean(alpha):
    return make_contact(
        alpha, ("+33612345678",), first_name="Jean", last_name="Dupont", company="Dupont Plomberie"
    )


def test_a_call_report_opens_with_its_header(alpha, sophie, jean, smtp, english):
    call = take_call(alpha, sophie, transfers=[("anne-alphonse", "refused")])
    message = report(alpha, call, urgent=True)
    subject, text, html = sent_email(smtp, message)
    assert subject == "URGENT · Appel de Jean Dupont"
    head, link = text.split("\n\nConfirm that you have read this urgent message: ")
    assert head == (
        "Call: Tuesday, December 8, 2026 at 10:05\u202fAM\n"
        "Caller: Jean Dupont (Dupont Plomberie), 06 12 34 56 78\n"
        "Priority: urgent\n"
        "Transfer: Maître Anne Alphonse, refused\n"
        "Taken by: Sophie\n"
        "\n" + BODY
    )
    assert link.startswith("http://127.0.0.1:8000/ack/")
    assert '<html lang="en">' in html
    for label, value in [
        ("Call:", "Tuesday, December 8, 2026 at 10:05\u202fAM"),
        ("Caller:", "Jean Dupont (Dupont Plomberie), 06 12 34 56 78"),
        ("Priority:", '<strong style="color:#b42318">urgent</strong>'),
        ("Transfer:", "Maître Anne Alphonse, refused"),
        ("Taken by:", "Sophie"),
    ]:
        assert f'padding:2px 12px 2px 0">{label}</th><td>{value}</td></tr>' in html
    assert html.index("Taken by:") < html.index("Rappeler au 06 12 34 56 78.<br>Dossier 2024/0153.")


def test_the_header_is_french_by_default(alpha, sophie, jean, smtp):
    """What does not come from the catalogue: the date in words, the time in the account's zone, the
    number written the French way."""
    message = report(alpha, take_call(alpha, sophie))
    _subject, text, html = sent_email(smtp, message)
    first, caller = text.splitlines()[:2]
    assert " mardi 8 décembre 2026 " in first and first.endswith(" 10:05")
    assert caller.endswith(" Jean Dupont (Dupont Plomberie), 06 12 34 56 78")
    assert '<html lang="fr">' in html and "Tuesday" not in text and "December" not in text


def test_the_header_in_french(alpha, sophie, jean, smtp, http_receiver, settings, french):
    call = take_call(alpha, sophie, transfers=[("anne-alphonse", "refused")])
    _subject, text, html = sent_email(smtp, report(alpha, call, urgent=True))
    assert text.startswith(
        "Appel : mardi 8 décembre 2026 à 10:05\n"
        "Appelant : Jean Dupont (Dupont Plomberie), 06 12 34 56 78\n"
        "Priorité : urgente\n"
        "Transfert : Maître Anne Alphonse, refusé\n"
        "Pris par : Sophie\n"
        "\n" + BODY + "\n\nConfirmez la lecture de ce message urgent : http://127.0.0.1:8000/ack/"
    )
    assert "<strong>Confirmer la lecture</strong>" in html
    url, receiver = http_receiver
    settings.SMS_GATEWAY_URL = url + "/sms"
    message = report(alpha, take_call(alpha, sophie, caller=""), recipients=["06 99 88 77 66"])
    assert outbox.attempt(message.deliveries.get().pk) == "sent"
    text = parse_qs(receiver.requests[-1]["body"].decode())["text"][0]
    assert (
        text == "08/12 10:05, numéro masqué, pris par Sophie. Rappeler au 06 12 34 56 78. Dossier 2024/0153."
    )
    assert sms.is_gsm(text)  # 160 characters a part, not 70


def test_local_time_across_the_dst_change_and_in_the_accounts_zone(alpha, sophie, english):
    """Sunday 29 March 2026: Paris goes from 02:00 to 03:00 (01:00 UTC)."""
    before = report(alpha, take_call(alpha, sophie, at=datetime(2026, 3, 29, 0, 55, tzinfo=UTC)))
    after = report(alpha, take_call(alpha, sophie, at=datetime(2026, 3, 29, 1, 5, tzinfo=UTC)))
    reunion = make_account("reunion", name="Cabinet Réunion", timezone="Indian/Reunion", language="en")
    far = report(reunion, take_call(reunion, sophie))
    lines = [channels.render_email(m)[1].splitlines()[0] for m in (before, after, far)]
    assert lines == [
        "Call: Sunday, March 29, 2026 at 1:55\u202fAM",
        "Call: Sunday, March 29, 2026 at 3:05\u202fAM",
        "Call: Tuesday, December 8, 2026 at 1:05\u202fPM",
    ]
    assert [channels.webhook_call(m)["at"] for m in (before, after, far)] == [
        "2026-03-29T01:55:00+01:00",
        "2026-03-29T03:05:00+02:00",
        "2026-12-08T13:05:00+04:00",
    ]


def test_local_time_across_the_dst_change_in_french(alpha, sophie):
    before = report(alpha, take_call(alpha, sophie, at=datetime(2026, 3, 29, 0, 55, tzinfo=UTC)))
    after = report(alpha, take_call(alpha, sophie, at=datetime(2026, 3, 29, 1, 5, tzinfo=UTC)))
    firsts = [channels.render_email(m)[1].splitlines()[0] for m in (before, after)]
    assert all(" dimanche 29 mars 2026 " in line for line in firsts)
    assert firsts[0].endswith(" 01:55") and firsts[1].endswith(" 03:05")


def test_a_withheld_number_with_the_name_and_company_the_caller_gave(alpha, sophie, english):
    call = take_call(alpha, sophie, caller="")
    message = report(
        alpha, call, fields={"name": "Marc  Petit", "company": "Petit SARL", "caller_type": "prospect"}
    )
    assert channels.render_email(message)[1] == (
        "Call: Tuesday, December 8, 2026 at 10:05\u202fAM\n"
        "Caller: Marc Petit (Petit SARL), withheld number\n"
        "Priority: normal\n"
        "Transfer: not tried\n"
        "Taken by: Sophie\n"
        "\n" + BODY
    )
    assert channels.render_email(message)[0] == "Appel de Jean Dupont"  # nothing added to a normal one


def test_the_callers_answers_come_before_the_contact(alpha, sophie, jean, english):
    """The CRM knows the number (Dupont Plomberie); this time Marie Dupont called from it."""
    message = report(alpha, take_call(alpha, sophie), fields={"name": "Marie Dupont"})
    assert channels.render_email(message)[1].splitlines()[1] == (
        "Caller: Marie Dupont (Dupont Plomberie), 06 12 34 56 78"
    )
    unknown = report(alpha, take_call(alpha, sophie, caller="+33698765432"))
    assert channels.render_email(unknown)[1].splitlines()[1] == "Caller: 06 98 76 54 32"


def test_each_transfer_tried_and_what_came_of_it(alpha, sophie, english):
    tried = [
        ("anne-alphonse", "no_answer"),
        ("anne-alphonse", "busy"),
        ("someone-gone", "refused"),
        ("", None),
    ]
    message = report(alpha, take_call(alpha, sophie, transfers=tried))
    assert channels.render_email(message)[1].splitlines()[3:7] == [
        "Transfer: Maître Anne Alphonse, no answer",
        "Transfer: Maître Anne Alphonse, busy",
        "Transfer: someone-gone, refused",  # nobody of that name in the directory: the name given
        "Transfer: outcome unknown",  # the call ended while it rang
    ]
    put_through = report(alpha, take_call(alpha, sophie, transfers=[("anne-alphonse", "accepted")]))
    assert "Transfer: Maître Anne Alphonse, put through\n" in channels.render_email(put_through)[1]


def test_a_message_without_a_call_has_no_header(alpha, sophie, smtp, english):
    plain = report(alpha)
    subject, text, html = sent_email(smtp, plain)
    assert (subject, text) == ("Appel de Jean Dupont", BODY)
    assert "<table" not in html and "Caller:" not in html
    # an appointment notice goes to the caller: no header, even when booked during a call
    notice = report(
        alpha,
        take_call(alpha, sophie),
        subject="Cabinet Alpha : rendez-vous confirmé",
        body="Votre rendez-vous est confirmé le lundi 14 décembre à 10:00.",
        fields={"appointment": "a2b7", "notice": "booked"},
    )
    assert channels.render_email(notice)[1] == "Votre rendez-vous est confirmé le lundi 14 décembre à 10:00."
    delivery = Delivery(message=notice, channel="sms", address="+33612345678")
    assert channels.sms_text(delivery, notice, 3) == (
        "Cabinet Alpha : rendez-vous confirmé - Votre rendez-vous est confirmé le lundi 14 décembre à 10:00."
    )


def test_urgent_is_said_once_in_the_subject(alpha):
    said = report(alpha, subject="Message URGENT — Cabinet Alpha — Jean Dupont", urgent=True)
    assert channels.render_email(said)[0] == "Message URGENT — Cabinet Alpha — Jean Dupont"
    multiline = report(alpha, subject="Appel\nde Jean", urgent=True)
    assert channels.render_email(multiline)[0].endswith(" · Appel de Jean")


def test_the_sms_carries_a_compact_header_and_keeps_to_its_parts(
    alpha, sophie, jean, http_receiver, settings, english
):
    url, receiver = http_receiver
    settings.SMS_GATEWAY_URL, settings.SMS_MAX_PARTS = url + "/sms", 2
    call = take_call(alpha, sophie, transfers=[("anne-alphonse", "refused")])
    long_text = "Le client signale une fuite importante dans la cuisine depuis ce matin. " * 8
    message = report(alpha, call, body=long_text, recipients=["06 99 88 77 66"])
    assert outbox.attempt(message.deliveries.get().pk) == "sent"
    text = parse_qs(receiver.requests[-1]["body"].decode())["text"][0]
    header = (
        "12/8 10:05 AM, Jean Dupont (Dupont Plomberie), 06 12 34 56 78, transfer to Anne Alphonse: refused, "
        "taken by Sophie. Le client signale une fuite"
    )
    assert text.startswith(header) and text.endswith("...")  # GSM's ellipsis: "…" would make it UCS-2
    assert sms.is_gsm(text) and sms.parts(text) == 2 and sms.parts(text + " depuis") > 2
    urgent = report(alpha, call, body=long_text, recipients=["06 99 88 77 66"], urgent=True)
    assert outbox.attempt(urgent.deliveries.get().pk) == "sent"
    text = parse_qs(receiver.requests[-1]["body"].decode())["text"][0]
    body, link = text.split("... Confirm reading: ")
    assert body.startswith("URGENT 12/8 10:05 AM, Jean Dupont") and link.startswith(
        "http://127.0.0.1:8000/ack/"
    )
    assert sms.parts(text) <= 2 and link.endswith("/")  # the link whole


def test_the_webhook_gets_the_call_as_json(alpha, sophie, jean, http_receiver, english):
    url, receiver = http_receiver
    WebhookEndpoint.objects.create(account=alpha, url=url + "/hook", secret="s3cret")
    call = take_call(alpha, sophie, transfers=[("anne-alphonse", "busy")])
    message = report(alpha, call, recipients=[], urgent=True)
    assert outbox.attempt(message.deliveries.get().pk) == "sent"
    data = json.loads(receiver.requests[-1]["body"])
    assert data["urgent"] is True and data["body"] == BODY
    assert data["call"] == {
        "id": call.pk,
        "at": "2026-12-08T10:05:00+01:00",
        "time_zone": "Europe/Paris",
        "caller": "+33612345678",
        "caller_display": "06 12 34 56 78",
        "withheld": False,
        "name": "Jean Dupont",
        "company": "Dupont Plomberie",
        "contact": jean.pk,
        "transfers": [
            {
                "to": "anne-alphonse",
                "name": "Maître Anne Alphonse",
                "result": "busy",
                "at": "2026-12-08T10:06:00+01:00",
            }
        ],
        "taken_by": "Sophie",
    }
    hidden = report(alpha, take_call(alpha, caller=""), recipients=[])  # withheld, never answered
    assert outbox.attempt(hidden.deliveries.get().pk) == "sent"
    data = json.loads(receiver.requests[-1]["body"])["call"]
    assert (data["caller"], data["caller_display"], data["withheld"], data["taken_by"]) == (
        None,
        None,
        True,
        None,
    )
    report(alpha, recipients=[])
    assert outbox.attempt(Delivery.objects.order_by("pk").last().pk) == "sent"
    assert json.loads(receiver.requests[-1]["body"])["call"] is None


def test_the_digest_lists_each_report_with_its_header(alpha, sophie, jean, english):
    first = report(alpha, take_call(alpha, sophie), now=WINTER + timedelta(minutes=10))
    second = report(
        alpha, subject="Rappel du fournisseur", body="Livraison décalée.", now=WINTER + timedelta(hours=8)
    )
    subject, text, html = channels.render_digest(list(second.deliveries.all()) + list(first.deliveries.all()))
    assert subject == "Cabinet Alpha · 2 messages (12/8/26)"
    assert text.startswith(
        "12/8 10:15\u202fAM · Appel de Jean Dupont\n\n"
        "Call: Tuesday, December 8, 2026 at 10:05\u202fAM\n"
        "Caller: Jean Dupont (Dupont Plomberie), 06 12 34 56 78\n"
    )
    assert text.endswith("12/8 6:05\u202fPM · Rappel du fournisseur\n\nLivraison décalée.")
    assert html.count("<table") == 1 and html.count("<h3") == 2


def test_a_training_calls_message_never_leaves_whatever_queued_it(
    alpha, sophie, smtp, http_receiver, settings, tmp_path
):
    """The outbox keeps a training call's message without deliveries; should anything queue one anyway,
    every channel refuses it."""
    url, receiver = http_receiver
    WebhookEndpoint.objects.create(account=alpha, url=url + "/hook", secret="s3cret")
    settings.SMS_PROVIDER, settings.SMS_FILE_PATH = "file", str(tmp_path / "sms")
    call = take_call(alpha, sophie, training=True)
    message = report(alpha, call, recipients=["anne@alpha.example", "06 99 88 77 66"])  # not said training
    assert message.deliveries.count() == 3
    for delivery in message.deliveries.all():
        assert outbox.attempt(delivery.pk) == "dead"
        delivery.refresh_from_db()
        assert delivery.last_error == "a training call's message is never sent"
    assert smtp.attempts == 0 and receiver.requests == [] and not (tmp_path / "sms").exists()


def test_the_accounts_language_not_the_pages(alpha, sophie, jean, smtp):
    """What the client reads follows ``Account.language``, never the language active where it is sent
    from (a French secretary's page, an English one)."""
    alpha.language = "en"
    alpha.save(update_fields=["language"])
    with translation.override("fr"):
        _subject, text, html = sent_email(smtp, report(alpha, take_call(alpha, sophie)))
        sms_message = report(alpha, take_call(alpha, sophie, caller=""), recipients=["06 99 88 77 66"])
        said = channels.sms_text(sms_message.deliveries.get(), sms_message, 3)
    assert text.startswith("Call: Tuesday, December 8, 2026 at 10:05") and '<html lang="en">' in html
    assert "Caller: Jean Dupont" in text and "Appelant" not in text
    assert said.startswith("12/8 10:05 AM, withheld number, taken by Sophie.")
    alpha.language = "fr"
    alpha.save(update_fields=["language"])
    with translation.override("en"):
        _subject, text, html = sent_email(smtp, report(alpha, take_call(alpha, sophie)))
        sms_message = report(alpha, take_call(alpha, sophie, caller=""), recipients=["06 99 88 77 66"])
        said = channels.sms_text(sms_message.deliveries.get(), sms_message, 3)
    assert "Appelant : Jean Dupont" in text and "mardi 8 décembre 2026" in text and '<html lang="fr">' in html
    assert said.startswith("08/12 10:05, numéro masqué")
