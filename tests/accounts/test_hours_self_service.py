"""The client sets its own hours, closures and after-hours policy: checked, audited, and the
coming days shown as callers will find them."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from permanence.accounts.models import AfterHours, HoursException
from permanence.audit.models import AuditEvent

MONDAY_NOON = datetime(2026, 11, 2, 11, 0, tzinfo=UTC)  # Monday 2 November 2026, 12:00 in Paris


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def week(**days):
    form = {"form": "week", **{f"day_{d}": "09:00-12:30, 14:00-18:00" for d in range(5)},
            "day_5": "", "day_6": ""}
    form.update(days)
    return form


def test_the_client_sets_the_week_and_sees_the_coming_days(personas, alpha):
    page = client_for(personas["client_admin"])
    with time_machine.travel(MONDAY_NOON, tick=False):
        assert page.post("/a/alpha/hours/", week(day_5="09:00-12:00")).status_code == 302
        alpha.refresh_from_db()
        assert alpha.opening_status(MONDAY_NOON).is_open
        assert alpha.opening_status(MONDAY_NOON + timedelta(hours=1)).is_open is False  # 13:00: lunch
        assert alpha.opening_status(MONDAY_NOON + timedelta(hours=3)).is_open
        body = page.get("/a/alpha/hours/").content.decode()
    glance = body[body.index('data-testid="glance"'):body.index('data-testid="week"')]
    assert "09:00 – 12:30, 14:00 – 18:00" in glance and "09:00 – 12:00" in glance  # Saturday morning
    [row] = AuditEvent.objects.filter(account=alpha, object_type="accounts.account")
    assert row.detail["field"] == "weekly_hours" and row.detail["before"]["0"] == "00:00-00:00"
    assert row.detail["after"]["0"] == "09:00-12:30, 14:00-18:00"


@pytest.mark.parametrize("day, typed", [("day_0", "9h-25h"), ("day_1", "09:00-12:00, 11:00-14:00"),
                                        ("day_2", "tôt")])
def test_bad_hours_are_refused_and_nothing_changes(personas, alpha, day, typed):
    before = list(alpha.weekly_hours.values_list("weekday", "opens", "closes"))
    response = client_for(personas["client_admin"]).post("/a/alpha/hours/", week(**{day: typed}))
    assert response.status_code == 422 and f'data-testid="error-{day}"' in response.content.decode()
    assert list(alpha.weekly_hours.values_list("weekday", "opens", "closes")) == before
    assert not AuditEvent.objects.filter(account=alpha).exists()


def test_an_exceptional_closure_shows_in_the_coming_days_and_is_removed(personas, alpha):
    page = client_for(personas["client_admin"])
    with time_machine.travel(MONDAY_NOON, tick=False):
        response = page.post("/a/alpha/hours/", {
            "form": "exception", "start_date": "2026-11-05", "end_date": "2026-11-06", "ranges": "",
            "label": "Séminaire"})
        assert response.status_code == 302
        body = page.get("/a/alpha/hours/").content.decode()
        thursday = body[body.index('data-testid="day-2026-11-05"'):][:600]
        assert "fermé" in thursday and "Séminaire" in thursday
        assert not alpha.opening_status(datetime(2026, 11, 5, 10, tzinfo=UTC)).is_open
        over = page.post("/a/alpha/hours/", {"form": "exception", "start_date": "2026-10-01",
                                             "end_date": "2026-10-02"})
        assert over.status_code == 422
        row = HoursException.objects.get(account=alpha)
        assert page.post(f"/a/alpha/hours/exceptions/{row.pk}/remove").status_code == 302
    assert not HoursException.objects.exists()
    assert [r.action for r in AuditEvent.objects.filter(object_type="accounts.hoursexception")
            .order_by("pk")] == ["create", "delete"]


def test_the_after_hours_policy_needs_a_number_to_forward_to(personas, alpha):
    page = client_for(personas["client_admin"])
    refused = page.post("/a/alpha/hours/", {"form": "after_hours", "after_hours": "forward",
                                            "on_call_number": ""})
    assert refused.status_code == 422 and 'data-testid="error-on_call_number"' in refused.content.decode()
    bad = page.post("/a/alpha/hours/", {"form": "after_hours", "after_hours": "forward",
                                        "on_call_number": "pas un numéro"})
    assert bad.status_code == 422
    assert page.post("/a/alpha/hours/", {"form": "after_hours", "after_hours": "forward",
                                         "on_call_number": "06 99 99 99 99"}).status_code == 302
    alpha.refresh_from_db()
    assert alpha.after_hours == AfterHours.FORWARD and alpha.on_call_number == "+33699999999"
    [row] = AuditEvent.objects.filter(account=alpha, object_type="accounts.account")
    assert row.detail["after"] == {"after_hours": "forward", "on_call_number": "+33699999999"}


def test_a_client_user_reads_the_hours_without_forms(personas, alpha):
    body = client_for(personas["client_user"]).get("/a/alpha/hours/").content.decode()
    assert 'data-testid="glance"' in body and 'name="day_0"' not in body and 'name="after_hours"' not in body
