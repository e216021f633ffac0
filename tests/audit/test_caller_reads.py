"""Reads of caller data leave an audit row wherever they happen: the back-office, the desk's caller
card and history, the private iCalendar feed."""

from django.test import Client
from django.utils import timezone

from permanence.agenda import feeds
from permanence.audit.models import AuditEvent
from permanence.calls import services
from permanence.contacts.models import Contact
from permanence.directory.models import Collaborator


def test_the_back_office_audits_caller_data_opened_and_listed(personas, alpha):
    admin = Client()
    admin.force_login(personas["admin"])
    contact = Contact.objects.get(account=alpha)
    call = services.call_arrived("01 45 00 00 01", "06 11 11 11 11")
    for url, obj in ((f"/admin/contacts/contact/{contact.pk}/change/", contact),
                     (f"/admin/calls/call/{call.pk}/change/", call)):
        assert admin.get(url).status_code == 200
        row = AuditEvent.objects.get(action="view", object_type=obj._meta.label_lower, object_id=str(obj.pk))
        assert row.actor == personas["admin"] and row.account_id == alpha.pk
        assert row.detail["via"] == "admin"
    assert admin.get("/admin/contacts/contact/?q=Client").status_code == 200
    listed = AuditEvent.objects.get(action="list", object_type="contacts.contact")
    assert listed.detail["rows"] == 1 and listed.detail["query"] == "q=Client"
    for model in ("agenda/appointment", "messaging/message", "messaging/delivery"):
        assert admin.get(f"/admin/{model}/").status_code == 200
        assert AuditEvent.objects.filter(action="list", object_type=model.replace("/", ".")).exists()


def test_the_desk_audits_the_caller_card_and_history_once_per_call(personas, alpha):
    secretary = personas["secretary"]
    earlier = services.call_arrived("01 45 00 00 01", "06 11 11 11 11")
    services.caller_hung_up(earlier)  # abandoned in the queue: still in the history
    services.set_status(secretary, "ready")
    call = services.call_arrived("01 45 00 00 01", "06 11 11 11 11")
    services.dispatch()
    services.accept(call, secretary)
    desk = Client()
    desk.force_login(secretary)
    for _ in range(2):  # drawn again at each step: audited once
        page = desk.get(f"/desk/calls/{call.pk}/")
        assert page.status_code == 200 and "Albert" in page.content.decode()
    contact = Contact.objects.get(account=alpha)
    card = AuditEvent.objects.get(action="view", object_type="contacts.contact", object_id=str(contact.pk))
    assert card.actor == secretary and card.detail == {"via": "desk", "call": call.pk, "what": "caller card"}
    shown = AuditEvent.objects.get(action="view", object_type="calls.call", object_id=str(call.pk))
    assert shown.detail["history"] == [earlier.pk] and shown.account_id == alpha.pk


def test_each_fetch_of_the_private_feed_is_audited(alpha):
    anne = Collaborator.objects.get(account=alpha)
    feed = feeds.issue(anne)
    before = timezone.now()
    for _ in range(2):
        assert Client(REMOTE_ADDR="127.0.0.7").get(f"/agenda/feed/{feed.token}.ics").status_code == 200
    rows = AuditEvent.objects.filter(action="view", object_type="agenda.calendarfeed", at__gte=before)
    assert rows.count() == 2
    assert {(r.account_id, r.ip_address, r.actor_id) for r in rows} == {(alpha.pk, "127.0.0.7", None)}
    assert Client().get("/agenda/feed/not-a-token.ics").status_code == 404
    assert rows.count() == 2
