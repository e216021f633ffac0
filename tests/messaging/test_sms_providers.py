"""SMS through Twilio's REST API and through a generic gateway configured by a URL template, both
against a real local HTTP server; Twilio's signed status callbacks mark deliveries delivered or dead."""

import base64
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import transaction
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from permanence.messaging import channels, outbox, signing, sms
from permanence.messaging.models import Delivery

TOKEN = "twilio-auth-token"


@pytest.fixture
def twilio(settings, http_receiver):
    url, receiver = http_receiver
    settings.SMS_PROVIDER = "twilio"
    settings.TWILIO_API_BASE, settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = url, "AC123", TOKEN
    settings.TWILIO_FROM, settings.SITE_URL = "+33700000000", "https://permanence.example"
    receiver.status, receiver.answer = 201, json.dumps({"sid": "SM42", "status": "queued"}).encode()
    return receiver


def queue_sms(alpha, **kw):
    with transaction.atomic():
        message = outbox.queue_message(
            alpha,
            subject="Appel de Jean Dupont",
            body="Rappeler au 06 12 34 56 78.",
            recipients=["06 99 88 77 66"],
            **kw,
        )
    return message.deliveries.get()


def test_twilio_gets_the_documented_request(alpha, twilio):
    delivery = queue_sms(alpha, urgent=True)
    assert outbox.attempt(delivery.pk) == "sent"
    [request] = twilio.requests
    assert request["method"] == "POST" and request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert (
        request["headers"]["Authorization"]
        == "Basic " + base64.b64encode(b"AC123:" + TOKEN.encode()).decode()
    )
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(request["body"].decode()).items()}
    assert set(form) == {"To", "From", "Body", "StatusCallback"}
    assert form["To"] == "+33699887766" and form["From"] == "+33700000000"
    assert form["StatusCallback"] == f"https://permanence.example/hooks/sms/twilio/{delivery.key}/"
    body, link = form["Body"].split(" https://permanence.example/ack/")
    with translation.override("fr"):
        assert body == "URGENT Appel de Jean Dupont - Rappeler au 06 12 34 56 78. " + gettext(
            "Confirm reading:"
        )
    assert link.endswith("/") and sms.parts(form["Body"]) <= 3
    delivery.refresh_from_db()
    assert delivery.provider_id == "twilio:SM42"


def test_twilio_refusals_and_busy_answers(alpha, twilio):
    twilio.status, twilio.answer = 400, b'{"code": 21211, "message": "Invalid To Phone Number"}'
    delivery = queue_sms(alpha)
    assert outbox.attempt(delivery.pk) == "dead"  # a 4xx will not get better
    delivery.refresh_from_db()
    assert "21211" in delivery.last_error and "Invalid To" in delivery.last_error
    twilio.status, twilio.answer = 429, b'{"code": 20429, "message": "Too Many Requests"}'
    assert outbox.attempt(queue_sms(alpha).pk) == "failed"  # retried later


def callback(key, fields, token=TOKEN):
    url = channels.twilio_callback_url_for(key)
    signature = signing.twilio_signature(token, url, fields)
    return Client().post(urlsplit(url).path, fields, HTTP_X_TWILIO_SIGNATURE=signature)


def test_twilio_status_callbacks(alpha, twilio):
    delivery = queue_sms(alpha)
    outbox.attempt(delivery.pk)
    base = {"MessageSid": "SM42", "AccountSid": "AC123", "To": "+33699887766"}
    assert callback(delivery.key, base | {"MessageStatus": "sent"}).status_code == 204
    assert Delivery.objects.get(pk=delivery.pk).status == "sent"  # in between: nothing changes
    # forged: signed with another token, or the fields changed after signing
    assert callback(delivery.key, base | {"MessageStatus": "delivered"}, token="other").status_code == 403
    url = channels.twilio_callback_url_for(delivery.key)
    signature = signing.twilio_signature(TOKEN, url, base | {"MessageStatus": "undelivered"})
    forged = Client().post(
        urlsplit(url).path, base | {"MessageStatus": "delivered"}, HTTP_X_TWILIO_SIGNATURE=signature
    )
    assert forged.status_code == 403 and Delivery.objects.get(pk=delivery.pk).status == "sent"
    # another message's sid: not this delivery
    assert (
        callback(delivery.key, base | {"MessageSid": "SM99", "MessageStatus": "delivered"}).status_code == 404
    )
    assert callback(delivery.key, base | {"MessageStatus": "delivered"}).status_code == 204
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert delivery.message.status == "sent"
    assert list(delivery.events.values_list("status", flat=True))[-1] == "delivered"
    # a late "sent" or a repeated report never takes it back
    assert callback(delivery.key, base | {"MessageStatus": "sent"}).status_code == 204
    assert Delivery.objects.get(pk=delivery.pk).status == "delivered"


def test_undelivered_sms_becomes_a_dead_letter_the_operator_sees(alpha, twilio):
    delivery = queue_sms(alpha)
    outbox.attempt(delivery.pk)
    fields = {"MessageSid": "SM42", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert callback(delivery.key, fields).status_code == 204
    delivery.refresh_from_db()
    assert delivery.status == "dead" and delivery.last_error == "provider reports undelivered (error 30003)"
    assert delivery.message.status == "failed"
    import uuid

    assert callback(uuid.uuid4(), fields).status_code == 404


def test_generic_gateway_by_url_template(alpha, http_receiver, settings):
    url, receiver = http_receiver
    settings.SMS_PROVIDER, settings.SMS_GATEWAY_METHOD = "http", "GET"
    settings.SMS_GATEWAY_URL = url + "/send?user=cabinet&dest={to}&msg={text}&ref={key}"
    delivery = queue_sms(alpha)
    assert outbox.attempt(delivery.pk) == "sent"
    [request] = receiver.requests
    assert request["method"] == "GET" and request["body"] == b""
    query = {k: v[0] for k, v in parse_qs(urlsplit(request["path"]).query).items()}
    assert query == {
        "user": "cabinet",
        "dest": "+33699887766",
        "msg": "Appel de Jean Dupont - Rappeler au 06 12 34 56 78.",
        "ref": str(delivery.key),
    }


def test_unknown_provider_is_a_clear_dead_letter(alpha, settings):
    settings.SMS_PROVIDER = "pigeon"
    delivery = queue_sms(alpha)
    assert outbox.attempt(delivery.pk) == "dead"
    assert (
        "unknown SMS_PROVIDER 'pigeon'; known: file, http, twilio"
        in Delivery.objects.get(pk=delivery.pk).last_error
    )


def test_file_provider_writes_one_file_per_sms(alpha, settings, tmp_path):
    """SMS_PROVIDER=file (the demo): each SMS is a file with its recipient, sender, key, parts and text."""
    settings.SMS_PROVIDER, settings.SMS_FILE_PATH = "file", str(tmp_path / "outbox-sms")
    first, second = queue_sms(alpha), queue_sms(alpha, urgent=True)
    assert outbox.attempt(first.pk) == "sent" and outbox.attempt(second.pk) == "sent"
    files = sorted((tmp_path / "outbox-sms").iterdir())
    assert len(files) == 2 and all(f.suffix == ".txt" for f in files)  # no partial file left behind
    written = {f.name.split("-", 2)[2].removesuffix(".txt"): f.read_text(encoding="utf-8") for f in files}
    head, text = written[str(first.key)].split("\n\n", 1)
    lines = head.splitlines()
    assert lines[:2] == ["To: +33699887766", "From: Permanence"] and lines[2].startswith("Date: 20")
    assert lines[3:] == [f"Key: {first.key}", "Parts: 1 (GSM 03.38)"]
    assert text == "Appel de Jean Dupont - Rappeler au 06 12 34 56 78.\n"
    urgent_text = written[str(second.key)].split("\n\n", 1)[1]
    assert urgent_text.startswith("URGENT Appel de Jean Dupont") and "/ack/" in urgent_text
    assert f"Parts: {sms.parts(urgent_text.rstrip())} (GSM 03.38)" in written[str(second.key)]
    first.refresh_from_db()
    assert first.provider_id == f"file:{[f.name for f in files if str(first.key) in f.name][0]}"
    assert first.message.status == "sent"


def test_file_provider_default_folder_is_in_the_data_dir(alpha, settings, tmp_path):
    assert Path(settings.SMS_FILE_PATH) == settings.DATA_DIR / "outbox-sms"  # the default
    settings.SMS_PROVIDER, settings.SMS_FILE_PATH, settings.DATA_DIR = "file", "", tmp_path
    assert outbox.attempt(queue_sms(alpha).pk) == "sent"
    assert len(list((tmp_path / "outbox-sms").glob("*.txt"))) == 1


def test_file_provider_that_cannot_write_is_a_clear_dead_letter(alpha, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    settings.SMS_PROVIDER, settings.SMS_FILE_PATH = "file", str(blocker)
    delivery = queue_sms(alpha)
    assert outbox.attempt(delivery.pk) == "dead"  # stays so until the operator fixes it and sends again
    delivery.refresh_from_db()
    assert delivery.last_error.startswith(f"cannot write the SMS file in {blocker}: ")
    assert delivery.message.status == "failed" and blocker.read_text() == "a file where the folder should be"
    with translation.override("fr"):
        assert channels.failure_in_words(delivery.last_error) == gettext(
            "the SMS could not be written to its folder"
        )


def test_the_callers_appointment_confirmation_by_sms_is_written_in_the_demo(alpha, settings, tmp_path):
    """make demo has no SMS gateway: with SMS_PROVIDER=file the caller's confirmation is a file."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from permanence.agenda import services
    from permanence.agenda.models import AppointmentType
    from permanence.directory.models import Collaborator

    settings.SMS_PROVIDER, settings.SMS_FILE_PATH = "file", str(tmp_path / "sms")
    anne = Collaborator.objects.get(account=alpha)
    kind = AppointmentType.objects.create(
        account=alpha, name="Consultation", min_notice_minutes=0, horizon_days=30
    )
    kind.collaborators.add(anne)
    paris = ZoneInfo("Europe/Paris")
    services.book(
        kind,
        anne,
        datetime(2026, 12, 7, 10, tzinfo=paris),
        now=datetime(2026, 12, 4, 10, tzinfo=paris),
        caller=services.Caller(name="Jean Dupont", phone="06 12 34 56 78"),
    )
    delivery = Delivery.objects.get(channel="sms")
    assert outbox.attempt(delivery.pk) == "sent"
    [written] = (tmp_path / "sms").iterdir()
    head, text = written.read_text(encoding="utf-8").split("\n\n", 1)
    assert head.startswith("To: +33612345678\n")
    subject = "Cabinet Alpha : rendez-vous confirmé"  # in the account's language (French)
    assert text == (  # no call header: the caller reads their confirmation
        subject + " - Cabinet Alpha : votre rendez-vous (Consultation) avec "
        "Maître Anne Alphonse est confirmé le lundi 7 décembre à 10:00 (Au cabinet). Pour le modifier, "
        "appelez-nous.\n"
    )


def inbound(fields, token=TOKEN):
    url = "https://permanence.example/hooks/sms/twilio/inbound/"
    signature = signing.twilio_signature(token, url, fields)
    return Client().post("/hooks/sms/twilio/inbound/", fields, HTTP_X_TWILIO_SIGNATURE=signature)


def test_an_urgent_message_is_acknowledged_by_replying_ok_to_its_sms(alpha, twilio):
    from permanence.messaging.models import Acknowledgement

    other = queue_sms(alpha, urgent=True)  # an older one to the same number
    delivery = queue_sms(alpha, urgent=True)
    outbox.attempt(other.pk)
    outbox.attempt(delivery.pk)
    assert inbound({"From": "+33699887766", "Body": "Non, rappelez-moi"}).status_code == 200
    assert not Acknowledgement.objects.exists()  # not an acknowledgement
    assert inbound({"From": "+33699887766", "Body": "OK"}, token="forged").status_code == 403
    assert not Acknowledgement.objects.exists()
    answer = inbound({"From": "+33699887766", "Body": " ok !"})
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/xml")
    [ack] = Acknowledgement.objects.all()
    assert ack.message == delivery.message and ack.by == "SMS +33699887766"  # the latest first
    inbound({"From": "+33699887766", "Body": "Lu"})
    assert {a.message_id for a in Acknowledgement.objects.all()} == {delivery.message_id, other.message_id}
    inbound({"From": "+33611111111", "Body": "OK"})  # a number nothing was sent to: nothing
    assert Acknowledgement.objects.count() == 2


def test_the_generic_gateway_posts_replies_signed_by_the_standard_webhooks_scheme(alpha, settings, twilio):
    import time
    from urllib.parse import urlencode

    from permanence.messaging.models import Acknowledgement

    delivery = queue_sms(alpha, urgent=True)
    outbox.attempt(delivery.pk)
    settings.SMS_GATEWAY_INBOUND_SECRET = "gateway-secret"
    body = urlencode({"from": "06 99 88 77 66", "text": "Oui"}).encode()
    headers = signing.standard_headers("gateway-secret", "msg_1", int(time.time()), body)
    forged = signing.standard_headers("another", "msg_1", int(time.time()), body)
    post = {"path": "/hooks/sms/inbound/", "data": body, "content_type": "application/x-www-form-urlencoded"}
    assert Client().post(**post, headers=forged).status_code == 403
    assert Client().post(**post, headers=headers).status_code == 204
    assert Acknowledgement.objects.get().message == delivery.message
    settings.SMS_GATEWAY_INBOUND_SECRET = ""
    assert Client().post(**post, headers=headers).status_code == 403  # nothing accepted unconfigured
