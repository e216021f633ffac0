"""The callers' satisfaction survey: one SMS question after a call from a mobile (the account opts in),
sent through the SMS gateway (a real HTTP peer here), answered 1-5 by reply through the signed inbound
webhook, counted as CSAT in the figures; STOP, once a month, daytime only, never to a blocked caller."""

import time as clock
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from factories import make_contact, make_user
from permanence.calls import services
from permanence.calls.lifecycle import Kind
from permanence.messaging import signing, surveys
from permanence.messaging.models import Survey, SurveyOptOut
from permanence.users.models import Role

PARIS = ZoneInfo("Europe/Paris")
MORNING = datetime(2026, 12, 8, 10, 0, tzinfo=PARIS)
SECRET = "gateway-secret"


@pytest.fixture
def gateway(settings, http_receiver, alpha):
    url, receiver = http_receiver
    settings.SMS_PROVIDER, settings.SMS_GATEWAY_METHOD = "http", "POST"
    settings.SMS_GATEWAY_URL = url + "/send"
    settings.SMS_GATEWAY_INBOUND_SECRET = SECRET
    alpha.csat_survey = True
    alpha.save()
    return receiver


def call_from(account, caller, ended, secretary=None, training=False):
    secretary = secretary or make_user("sec-" + caller[-4:] + ended.strftime("%H%M%d"), Role.SECRETARY)
    start = ended - timedelta(minutes=3)
    call = services.call_arrived("01 45 00 00 01", caller, account=account, at=start, training=training)
    services.record(call, Kind.OFFERED, at=start, secretary=secretary)
    services.record(call, Kind.ANSWERED, at=start + timedelta(seconds=5), secretary=secretary)
    services.record(call, Kind.ENDED, at=ended)
    return call


def reply(number, text):
    body = urlencode({"from": number, "text": text}).encode()
    headers = signing.standard_headers(SECRET, f"msg_{clock.monotonic_ns()}", int(clock.time()), body)
    return Client().post("/hooks/sms/inbound/", data=body, content_type="application/x-www-form-urlencoded",
                         headers=headers)


def test_a_caller_gets_one_question_and_the_answer_counts_in_csat(alpha, gateway):
    call = call_from(alpha, "06 12 34 56 78", MORNING)
    assert surveys.send_due(MORNING + timedelta(minutes=1)) == 0  # not yet: the call just ended
    assert surveys.send_due(MORNING + timedelta(minutes=5)) == 1
    assert surveys.send_due(MORNING + timedelta(minutes=6)) == 0  # once
    [request] = gateway.requests
    sent = {k: v[0] for k, v in parse_qs(request["body"].decode()).items()}
    survey = Survey.objects.get(call=call)
    assert sent["to"] == "+33612345678" and sent["key"] == str(survey.key)
    assert "Cabinet Alpha" in sent["text"] and "1" in sent["text"] and "5" in sent["text"]
    assert reply("06 12 34 56 78", " 4 ").status_code == 204
    survey.refresh_from_db()
    assert (survey.status, survey.rating) == ("answered", 4)
    reply("06 12 34 56 78", "1")  # a second answer changes nothing
    assert Survey.objects.get(pk=survey.pk).rating == 4
    found = surveys.csat(MORNING - timedelta(hours=1), MORNING + timedelta(hours=1), account=alpha)
    assert (found.answers, found.satisfied, found.percent) == (1, 1, 100.0)


def test_the_clients_report_shows_csat(alpha, gateway, personas):
    for i, number in enumerate(["0612000001", "0612000002", "0612000003"]):
        call_from(alpha, number, MORNING + timedelta(minutes=i))
    surveys.send_due(MORNING + timedelta(minutes=10))
    for number, rating in [("0612000001", "5"), ("0612000002", "2"), ("0612000003", "4")]:
        reply(number, rating)
    client = Client()
    client.force_login(personas["client_user"])
    day = MORNING.date().isoformat()
    text = client.get("/a/alpha/reports/", {"from": day, "to": day}).content.decode()
    assert 'data-testid="csat-percent">67 %<' in text and "3 réponses" in text


@pytest.mark.parametrize("case", ["landline", "withheld", "training", "night", "late", "blocked", "off"])
def test_no_survey_where_it_would_be_unwelcome(alpha, gateway, case):
    number = {"landline": "01 45 00 00 99", "withheld": ""}.get(case, "06 12 34 56 78")
    ended = MORNING.replace(hour=21) if case == "night" else MORNING
    now = ended + (timedelta(hours=3) if case == "late" else timedelta(minutes=5))
    if case == "blocked":
        make_contact(alpha, ("+33612345678",), first_name="Marc", last_name="Démarcheur", tags="blocked")
    if case == "off":
        alpha.csat_survey = False
        alpha.save()
    call_from(alpha, number, ended, training=case == "training")
    assert surveys.send_due(now) == 0
    assert not gateway.requests


def test_once_a_month_and_never_after_stop(alpha, gateway):
    call_from(alpha, "06 12 34 56 78", MORNING)
    assert surveys.send_due(MORNING + timedelta(minutes=5)) == 1
    call_from(alpha, "06 12 34 56 78", MORNING + timedelta(days=2))
    assert surveys.send_due(MORNING + timedelta(days=2, minutes=5)) == 0  # asked two days ago
    reply("06 12 34 56 78", "STOP")
    assert SurveyOptOut.objects.filter(address="+33612345678").exists()
    call_from(alpha, "06 12 34 56 78", MORNING + timedelta(days=40))
    assert surveys.send_due(MORNING + timedelta(days=40, minutes=5)) == 0
    assert len(gateway.requests) == 1


def test_a_reply_that_is_no_rating_is_left_to_the_acknowledgements(alpha, gateway):
    call_from(alpha, "06 12 34 56 78", MORNING)
    surveys.send_due(MORNING + timedelta(minutes=5))
    for text in ("OK", "merci", "6", "45"):
        assert surveys.answer_by_reply("+33612345678", text, MORNING + timedelta(minutes=9)) is None
    assert surveys.answer_by_reply("+33612345678", "5/5", MORNING + timedelta(minutes=9)).rating == 5
    # too late: two days after, a figure answers nothing
    call_from(alpha, "06 99 88 77 66", MORNING + timedelta(minutes=1))
    surveys.send_due(MORNING + timedelta(minutes=6))
    assert surveys.answer_by_reply("+33699887766", "3", MORNING + timedelta(days=3)) is None


def test_a_gateway_that_refuses_leaves_the_survey_not_sent_with_the_reason(alpha, gateway):
    gateway.status = 500
    call_from(alpha, "06 12 34 56 78", MORNING)
    assert surveys.send_due(MORNING + timedelta(minutes=5)) == 0
    survey = Survey.objects.get()
    assert survey.status == "failed" and survey.reason


def test_a_survey_that_could_not_be_sent_does_not_count_as_asked(alpha, gateway):
    gateway.status = 500
    call_from(alpha, "06 12 34 56 78", MORNING)
    assert surveys.send_due(MORNING + timedelta(minutes=5)) == 0
    gateway.status = 200
    call_from(alpha, "06 12 34 56 78", MORNING + timedelta(days=1))
    assert surveys.send_due(MORNING + timedelta(days=1, minutes=5)) == 1
    assert sorted(Survey.objects.values_list("status", flat=True)) == ["failed", "sent"]


def test_the_question_is_in_the_accounts_language_not_the_pages(alpha):
    from django.utils import translation

    alpha.language = "en"
    with translation.override("fr"):
        asked = surveys.question(alpha)
    assert asked.startswith("Cabinet Alpha: How satisfied are you with how your call was handled? Reply")
    alpha.language = "fr"
    with translation.override("en"):
        assert "How satisfied" not in surveys.question(alpha)
