"""The operator's live view: waiting calls in routing order with an estimated wait, statuses."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from factories import make_contact
from permanence.calls import services
from permanence.calls.models import Call


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_queue_in_routing_order_with_expected_waits(personas, alpha, beta):
    make_contact(alpha, ("+33677777777",), first_name="Victor", last_name="Important", tags="vip")
    services.set_status(personas["secretary"], "paused")
    older = services.call_arrived("01 45 00 00 01", "06 11 22 33 44", account=alpha)
    vip = services.call_arrived("01 45 00 00 01", "06 77 77 77 77", account=alpha)
    lonely = services.call_arrived("04 78 00 00 02", None, account=beta)
    Call.objects.filter(pk=older.pk).update(arrived_at=timezone.now() - timedelta(seconds=40))
    Call.objects.filter(pk=lonely.pk).update(arrived_at=timezone.now() - timedelta(seconds=20))
    admin = signed_in(personas["admin"])
    page = admin.get("/supervision/").content.decode()
    # the VIP first, then the oldest; Beta's call has nobody there
    assert page.index(f'data-testid="waiting-{vip.pk}"') < page.index(f'data-testid="waiting-{older.pk}"')
    assert page.index(f'data-testid="waiting-{older.pk}"') < page.index(f'data-testid="waiting-{lonely.pk}"')
    assert "personne" in page.split(f'data-testid="waiting-{lonely.pk}"')[1].split("</tr>")[0]
    # the secretary trained on Alpha comes back: 1 there, 1 call ahead for the VIP -> 180 s
    services.set_status(personas["secretary"], "ready")
    Call.objects.filter(pk__in=[older.pk, vip.pk, lonely.pk]).update(state="queued")  # keep them waiting
    page = admin.get("/supervision/").content.decode()
    vip_row = page.split(f'data-testid="waiting-{vip.pk}"')[1].split("</tr>")[0]
    assert "≈ 180 s" in vip_row and "VIP" in vip_row
    assert f'data-testid="desk-{personas["secretary"].pk}"' in page
    partial = admin.get("/supervision/", HTTP_HX_REQUEST="true").content.decode()
    assert partial.startswith('<div id="supervision"') and "<html" not in partial


def test_only_the_operator(personas):
    for name in ("secretary", "client_admin", "client_user"):
        assert signed_in(personas[name]).get("/supervision/").status_code == 403
    assert signed_in(personas["assistant"]).get("/supervision/").status_code == 200
