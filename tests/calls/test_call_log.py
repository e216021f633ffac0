"""The client's call log: each call with its wait, who answered, the path, the outcome and its
message; searched and filtered by date, collaborator, motive, urgency and outcome; audited."""

from datetime import timedelta

from django.db import transaction
from django.test import Client
from django.utils import timezone

from permanence.audit.models import AuditEvent
from permanence.calls.models import Call
from permanence.directory.models import Collaborator
from permanence.messaging import outbox


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def call(alpha, personas, minutes_ago, outcome="message", **fields):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return Call.objects.create(
        account=alpha, called="+33145000001", caller=fields.pop("caller", "+33612345678"), state="done",
        outcome=outcome, arrived_at=at, answered_at=at + timedelta(seconds=12),
        ended_at=at + timedelta(minutes=3), secretary=personas["secretary"], **fields)


def message(alpha, the_call, subject, to, urgent=False):
    with transaction.atomic():
        return outbox.queue_message(alpha, subject=subject, body="Rappeler.", recipients=[to], call=the_call,
                                    urgent=urgent)


def test_the_client_finds_its_calls_by_collaborator_motive_urgency_and_outcome(personas, alpha, beta):
    anne = Collaborator.objects.get(account=alpha)
    anne.email = "anne@alpha.example"
    anne.save()
    divorce = call(alpha, personas, 30)
    message(alpha, divorce, "Divorce : rappeler M. Martin", "anne@alpha.example", urgent=True)
    billing = call(alpha, personas, 60)
    message(alpha, billing, "Facture en retard", "compta@alpha.example")
    transfer = call(alpha, personas, 90, outcome="transfer", motive="rendez-vous")
    lost = Call.objects.create(account=alpha, called="+33145000001", caller="+33698765432",
                               state="abandoned", arrived_at=timezone.now() - timedelta(minutes=5))
    old = call(alpha, personas, 60 * 24 * 20)
    other = call(beta, personas, 10)
    page = signed_in(personas["client_user"])

    def shown(**query):
        body = page.get("/a/alpha/calls/", query).content.decode()
        every = (divorce, billing, transfer, lost, old, other)
        return {c.pk for c in every if f'data-testid="call-{c.pk}"' in body}

    assert shown() == {divorce.pk, billing.pk, transfer.pk, lost.pk}  # the last week, Alpha's only
    assert shown(collaborator=anne.pk) == {divorce.pk}
    assert shown(q="facture") == {billing.pk}
    assert shown(q="rendez-vous") == {transfer.pk}
    assert shown(q="06 98 76 54 32") == {lost.pk}
    assert shown(urgent="1") == {divorce.pk}
    assert shown(status="abandoned") == {lost.pk}
    assert shown(status="transfer") == {transfer.pk}
    back = (timezone.localdate() - timedelta(days=21)).isoformat()
    assert old.pk in shown(**{"from": back})
    body = page.get("/a/alpha/calls/").content.decode()
    row = body[body.index(f'data-testid="call-{divorce.pk}"'):][:1500]
    assert "12 s" in row and "Divorce : rappeler M. Martin" in row and "secretary" in row
    assert AuditEvent.objects.filter(account=alpha, object_type="calls.call", action="list").exists()


def test_bad_filters_are_read_safely(personas, alpha):
    page = signed_in(personas["client_admin"])
    for query in ({"from": "hier"}, {"to": "2026-13-45"}, {"collaborator": "x"}, {"status": "<script>"},
                  {"page": "-3"}, {"from": "2020-01-01", "to": "2026-01-01"}):
        assert page.get("/a/alpha/calls/", query).status_code == 200


def test_the_wait_is_counted_as_the_figures_count_it(personas, alpha):
    from permanence.calls.log_views import _row

    now = timezone.now()
    turned_away = Call.objects.create(account=alpha, called="+33145000001", state="not_served",
                                      arrived_at=now, ended_at=now + timedelta(seconds=20))
    gone = Call.objects.create(account=alpha, called="+33145000001", state="abandoned",
                               arrived_at=now, ended_at=now + timedelta(seconds=40))
    assert _row(turned_away)["wait"] is None and _row(gone)["wait"] == 40
    assert _row(call(alpha, personas, 5))["wait"] == 12
