"""What a request reaches, and no further: a mention is a whole e-mail address or number (Anne's request does
not reach Joanne), a contact found only through a number or e-mail that others use too (a family
landline, a switchboard) is listed apart and left alone, a call still in progress is kept, a refusal of the
surveys is shown only to an account that sent one; legal holds on a contact keep what the contact had, and
the operator's holds are lifted by the operator; identifiers too long or oddly written are refused
clearly."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from factories import make_contact
from permanence.calls import services
from permanence.calls.lifecycle import Kind
from permanence.calls.models import Call, Voicemail
from permanence.contacts.models import Contact
from permanence.messaging.models import Message, Survey, SurveyOptOut
from permanence.privacy import holds, purge
from permanence.privacy.models import DataRequest, LegalHold
from privacy_helpers import NOW, OLD, answered_call, message_for, secretary, voicemail_for

ANNE = "+33611223344"
JOANNE = "+33699887766"
LANDLINE = "+33145678900"
CALLER = "+33612345678"
LONG_EMAIL = "a" * 80 + "@" + ".".join(["b" * 60] * 3) + ".fr"  # 80 + 1 + 182 + 3 = 266 characters


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def export(client: Client, url: str) -> dict[str, Any]:
    import io
    import zipfile

    response = client.post(f"{url}export")
    assert response.status_code == 200
    return json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("data.json"))


def erase(client: Client, url: str) -> None:
    assert client.post(f"{url}erase", {"confirm": "1"}).status_code == 302


def note(account: Any, text: str) -> Message:
    """A message taken without a call (a note the secretary typed), mentioning someone."""
    return Message.objects.create(account=account, subject="Note", body=text, recipients=["dr@alpha.example"],
                                  fields={"remarque": text}, status="sent")  # fmt: skip


# 1. mentions are whole addresses and numbers; shared identifiers do not pull others in ----------------


def test_a_request_for_anne_does_not_reach_joanne(alpha, personas):
    anne_call = answered_call(alpha, ANNE, OLD, answers={"name": "Anne"})
    joanne_call = answered_call(alpha, JOANNE, OLD, answers={"name": "Joanne"})
    for_anne = note(alpha, "Écrire à anne@x.fr.")
    for_joanne = message_for(joanne_call, OLD, text="Joanne (joanne@x.fr) rappellera.")
    also_joanne = note(alpha, "Copie à jo.anne@x.fr et à anne@x.fr.example.com")
    numbers = note(alpha, "Dossier 306123456789 ; rappeler le 06 12 34 56 78")
    other_number = note(alpha, "Dossier n° 306123456789")
    item = DataRequest.objects.create(account=alpha, kind="access", email="anne@x.fr")
    client = signed_in(personas["client_admin"])
    url = f"/a/alpha/privacy/requests/{item.pk}/"
    assert [m["id"] for m in export(client, url)["messages"]] == [for_anne.pk]
    # a number: whole, in its usual writings
    by_phone = DataRequest.objects.create(account=alpha, kind="access", phone=CALLER)
    found = export(client, f"/a/alpha/privacy/requests/{by_phone.pk}/")
    assert [m["id"] for m in found["messages"]] == [numbers.pk]
    # the erasure empties Anne's message only
    item = DataRequest.objects.create(account=alpha, kind="erasure", email="anne@x.fr", phone=ANNE)
    erase(client, f"/a/alpha/privacy/requests/{item.pk}/")
    assert Message.objects.get(pk=for_anne.pk).body == ""
    assert Call.objects.get(pk=anne_call.pk).caller == ""
    for kept in (for_joanne, also_joanne, other_number):
        assert Message.objects.get(pk=kept.pk).body, kept.body
    assert Call.objects.get(pk=joanne_call.pk).caller == JOANNE


def test_a_shared_landline_does_not_pull_in_the_others_who_use_it(alpha, personas):
    anne = make_contact(alpha, (ANNE, LANDLINE), first_name="Anne", last_name="Durand", email="anne@x.fr")
    bernard = make_contact(alpha, (LANDLINE,), first_name="Bernard", last_name="Durand")
    standard = make_contact(alpha, (LANDLINE,), company="Standard Durand", email="contact@durand.example")
    anne_call = answered_call(alpha, ANNE, OLD, answers={"name": "Anne"})
    landline_call = answered_call(alpha, LANDLINE, OLD, answers={"name": "Bernard"})
    client = signed_in(personas["client_admin"])
    # through Anne's e-mail: Anne, her mobile; not the landline others use too, nor them
    item = DataRequest.objects.create(account=alpha, kind="access", email="anne@x.fr")
    url = f"/a/alpha/privacy/requests/{item.pk}/"
    data = export(client, url)
    assert [c["id"] for c in data["contacts"]] == [anne.pk]
    assert [c["id"] for c in data["calls"]] == [anne_call.pk]
    page = client.get(url).content.decode()
    assert f'data-testid="also-{bernard.pk}"' in page and f'data-testid="also-{standard.pk}"' in page
    assert f'data-testid="also-{anne.pk}"' not in page
    # an erasure with the landline itself: its calls, but none of the contacts who share it
    item = DataRequest.objects.create(account=alpha, kind="erasure", phone="01 45 67 89 00")
    url = f"/a/alpha/privacy/requests/{item.pk}/"
    page = client.get(url).content.decode()
    assert all(f'data-testid="also-{c.pk}"' in page for c in (anne, bernard, standard))
    erase(client, url)
    assert Contact.objects.filter(pk__in=[anne.pk, bernard.pk, standard.pk]).count() == 3
    assert Call.objects.get(pk=landline_call.pk).caller == ""
    assert Call.objects.get(pk=anne_call.pk).caller == ANNE
    # rectification: only the person's own contacts
    item = DataRequest.objects.create(account=alpha, kind="rectification", phone=LANDLINE)
    response = client.post(f"/a/alpha/privacy/requests/{item.pk}/rectify",
                           {"contact": str(bernard.pk), "last_name": "Autre"})  # fmt: skip
    assert response.status_code == 422
    assert Contact.objects.get(pk=bernard.pk).last_name == "Durand"
    # the request's own contact is the person's, landline and all
    item = DataRequest.objects.create(account=alpha, kind="erasure", contact=anne)
    erase(client, f"/a/alpha/privacy/requests/{item.pk}/")
    assert not Contact.objects.filter(pk=anne.pk).exists()
    assert Contact.objects.filter(pk__in=[bernard.pk, standard.pk]).count() == 2


# 2. legal holds ---------------------------------------------------------------------------------------


def test_a_hold_on_a_contact_keeps_its_numbers_when_the_contact_changes_or_goes(alpha, personas):
    jean = make_contact(alpha, (CALLER,), first_name="Jean", last_name="Plaignant", email="jean@example.org")
    call = answered_call(alpha, CALLER, OLD)
    client = signed_in(personas["client_admin"])
    response = client.post("/a/alpha/privacy/holds/", {"contact": str(jean.pk), "reason": "Plainte"})
    assert response.status_code == 302
    hold = LegalHold.objects.get()
    assert (hold.contact_numbers, hold.contact_emails) == ([CALLER], ["jean@example.org"])
    # the contact corrected (another number), then deleted in the back-office: the hold still holds
    correct = DataRequest.objects.create(account=alpha, kind="rectification", contact=jean)
    assert client.post(f"/a/alpha/privacy/requests/{correct.pk}/rectify", {
        "contact": str(jean.pk), "last_name": "Plaignant", "numbers": "06 00 00 00 01"}).status_code == 302
    jean.delete()
    page = client.get("/a/alpha/privacy/holds/").content.decode()
    assert f'data-testid="in-force-{hold.pk}"' in page and "06 12 34 56 78" in page
    item = DataRequest.objects.create(account=alpha, kind="erasure", phone=CALLER)
    erase(client, f"/a/alpha/privacy/requests/{item.pk}/")
    assert Call.objects.get(pk=call.pk).caller == CALLER
    item.refresh_from_db()
    assert {k["code"] for k in item.result["kept"] if k["section"] == "calls"} == {"hold"}
    purge.purge_due(NOW)
    assert Call.objects.get(pk=call.pk).caller == CALLER


def test_a_client_admin_does_not_lift_the_operators_hold(alpha, personas):
    operators = holds.place(alpha, whole_account=False, phone=CALLER, reason="Réquisition",
                            actor=personas["admin"])  # fmt: skip
    clients = holds.place(alpha, whole_account=False, phone=CALLER, reason="Litige",
                          actor=personas["client_admin"])  # fmt: skip
    client = signed_in(personas["client_admin"])
    page = client.get("/a/alpha/privacy/holds/").content.decode()
    assert f'data-testid="lift-{operators.pk}"' not in page and f'data-testid="lift-{clients.pk}"' in page
    assert client.post(f"/a/alpha/privacy/holds/{operators.pk}/lift").status_code == 403
    operators.refresh_from_db()
    assert operators.lifted_at is None
    assert client.post(f"/a/alpha/privacy/holds/{clients.pk}/lift").status_code == 302
    assert signed_in(personas["admin"]).post(f"/a/alpha/privacy/holds/{operators.pk}/lift").status_code == 302
    assert LegalHold.objects.filter(lifted_at__isnull=True).count() == 0


# 3. a call in progress ----------------------------------------------------------------------------------


def test_a_call_still_in_progress_is_kept_from_the_erasure(alpha, personas):
    over = answered_call(alpha, CALLER, OLD)
    who = secretary(alpha)
    live = services.call_arrived("01 45 00 00 01", CALLER, account=alpha)
    services.record(live, Kind.OFFERED, secretary=who)
    services.record(live, Kind.ANSWERED, secretary=who)
    taking = message_for(live, NOW)
    left = voicemail_for(live, NOW)
    item = DataRequest.objects.create(account=alpha, kind="erasure", phone=CALLER)
    erase(signed_in(personas["client_admin"]), f"/a/alpha/privacy/requests/{item.pk}/")
    assert Call.objects.get(pk=over.pk).caller == ""
    live.refresh_from_db()
    assert live.caller == CALLER and live.purged_at is None
    assert Message.objects.get(pk=taking.pk).body and Voicemail.objects.get(pk=left.pk).caller == CALLER
    item.refresh_from_db()
    kept = {(k["section"], k["id"]): k["code"] for k in item.result["kept"]}
    assert kept[("calls", live.pk)] == kept[("messages", taking.pk)] == kept[("voicemails", left.pk)] == (
        "in_progress")


# 4. 5. identifiers refused clearly ------------------------------------------------------------------------


def test_an_email_longer_than_the_columns_is_refused_clearly(alpha, personas):
    assert 254 < len(LONG_EMAIL) <= 320
    client = signed_in(personas["client_admin"])
    response = client.post("/a/alpha/privacy/requests/", {"kind": "access", "email": LONG_EMAIL})
    assert response.status_code == 422 and b'data-testid="error-email"' in response.content
    assert b"254" in response.content
    response = client.post("/a/alpha/privacy/holds/", {"email": LONG_EMAIL, "reason": "Litige"})
    assert response.status_code == 422 and b'data-testid="error-email"' in response.content
    assert not DataRequest.objects.exists() and not LegalHold.objects.exists()


@pytest.mark.parametrize("raw", ["²", "١٢", "99999999999999999999999", "-1", " 1"])
def test_rectifying_with_an_odd_contact_is_refused(alpha, personas, raw):
    make_contact(alpha, (CALLER,), last_name="Appelant")
    item = DataRequest.objects.create(account=alpha, kind="rectification", phone=CALLER)
    response = signed_in(personas["client_admin"]).post(
        f"/a/alpha/privacy/requests/{item.pk}/rectify", {"contact": raw, "last_name": "X"})
    assert response.status_code == 422 and b'data-testid="error-contact"' in response.content


# 6. the refusals of the surveys --------------------------------------------------------------------------


def test_a_refusal_of_the_surveys_is_shown_only_to_an_account_that_sent_one(alpha, beta, personas):
    beta_call = answered_call(beta, CALLER, OLD)
    Survey.objects.create(call=beta_call, account=beta, address=CALLER)
    SurveyOptOut.objects.create(address=CALLER)
    answered_call(alpha, CALLER, OLD)
    item = DataRequest.objects.create(account=alpha, kind="access", phone=CALLER)
    alpha_admin = signed_in(personas["client_admin"])
    assert export(alpha_admin, f"/a/alpha/privacy/requests/{item.pk}/")["opt_outs"] == []
    theirs = DataRequest.objects.create(account=beta, kind="access", phone=CALLER)
    beta_admin = signed_in(personas["client_admin_beta"])
    found = export(beta_admin, f"/a/beta/privacy/requests/{theirs.pk}/")
    assert [o["number"] for o in found["opt_outs"]] == [CALLER]
    everywhere = DataRequest.objects.create(kind="access", phone=CALLER)
    found = export(signed_in(personas["admin"]), f"/privacy/requests/{everywhere.pk}/")
    assert [o["number"] for o in found["opt_outs"]] == [CALLER]


# 7. bounded work ------------------------------------------------------------------------------------------


def test_a_request_page_and_an_export_read_the_selection_once(alpha, beta, personas,
                                                             django_assert_max_num_queries):  # fmt: skip
    make_contact(alpha, (CALLER,), last_name="Appelant", email="jean@example.org")
    for account in (alpha, beta):
        for hours in range(3):
            message_for(answered_call(account, CALLER, OLD + timedelta(hours=hours)), OLD)
    item = DataRequest.objects.create(kind="access", phone=CALLER)
    client = signed_in(personas["admin"])
    client.get(f"/privacy/requests/{item.pk}/")  # the session, warmed
    with django_assert_max_num_queries(24):
        assert client.get(f"/privacy/requests/{item.pk}/").status_code == 200
    with django_assert_max_num_queries(36):
        assert client.post(f"/privacy/requests/{item.pk}/export").status_code == 200
