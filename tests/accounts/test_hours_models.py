"""Opening hours as stored: validation in the user's language, nothing that breaks a page."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation

from factories import office_hours
from permanence.accounts.models import HoursException, WeeklyHours

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def alpha(alpha):
    return office_hours(alpha)


def test_overlapping_weekly_ranges_are_refused(alpha):
    # alpha opens 09:00-18:00 on weekdays (see factories.make_account).
    extra = WeeklyHours(account=alpha, weekday=0, opens=time(17), closes=time(20))
    with pytest.raises(ValidationError, match="se chevauchent"):
        extra.full_clean()
    WeeklyHours(account=alpha, weekday=0, opens=time(18), closes=time(20)).full_clean()


def test_range_closing_before_opening_is_refused_by_form_and_database(alpha):
    bad = WeeklyHours(account=alpha, weekday=5, opens=time(18), closes=time(9))
    with translation.override("fr"), pytest.raises(ValidationError) as caught:
        bad.full_clean()
    assert "ferme avant" in " ".join(caught.value.messages)
    with pytest.raises(IntegrityError), transaction.atomic():
        bad.save()
    WeeklyHours(account=alpha, weekday=5, opens=time(20), closes=time(0)).full_clean()


def test_exception_ranges_are_checked_in_french(alpha):
    exception = HoursException(account=alpha, start_date=date(2026, 12, 24),
                               end_date=date(2026, 12, 24), ranges="9h-midi")
    with translation.override("fr"), pytest.raises(ValidationError) as caught:
        exception.full_clean()
    assert "ranges" in caught.value.message_dict
    assert "n’est pas une heure" in caught.value.message_dict["ranges"][0]


def test_exception_ending_before_it_starts_is_refused(alpha):
    with pytest.raises(IntegrityError), transaction.atomic():
        HoursException.objects.create(account=alpha, start_date=date(2026, 12, 24),
                                      end_date=date(2026, 12, 23))


def test_unknown_holiday_region_is_refused(alpha):
    alpha.holiday_subdivision = "99"
    with pytest.raises(ValidationError) as caught:
        alpha.full_clean()
    assert "holiday_subdivision" in caught.value.message_dict
    alpha.holiday_subdivision = "57"
    alpha.full_clean()


def test_a_bad_row_written_around_the_forms_does_not_break_the_account(alpha, caplog):
    monday = date(2026, 11, 23)
    HoursException.objects.create(account=alpha, start_date=monday, end_date=monday,
                                  ranges="n'importe quoi", label="Saisie directe")
    status = alpha.opening_status(datetime.combine(monday, time(10), PARIS))
    assert not status.is_open and status.label == "Saisie directe"
    assert "read as closed" in caplog.text
