"""The server's tick takes back a lapsed offer and gives the call to the next secretary."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from factories import make_user
from permanence.calls import services
from permanence.calls.models import Call
from permanence.calls.ticker import Ticker
from permanence.users.models import Role, Training


@pytest.mark.django_db(transaction=True)
def test_tick_moves_a_lapsed_offer(personas, alpha):
    other = make_user("secretary2", Role.SECRETARY)
    Training.objects.create(secretary=other, account=alpha)
    services.set_status(personas["secretary"], "ready")
    services.set_status(other, "ready")
    call = services.call_arrived("01 45 00 00 01", None)
    services.dispatch()
    first = Call.objects.get(pk=call.pk).offered_to
    Call.objects.filter(pk=call.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
    ticker = Ticker(every=0.05).start()
    time.sleep(0.5)  # no reads meanwhile: SQLite's shared in-memory test database locks whole tables
    ticker.stop()
    call.refresh_from_db()
    assert call.state == "offered" and call.offered_to not in (None, first)
    assert list(call.events.values_list("kind", flat=True))[-2:] == ["offer_expired", "offered"]
