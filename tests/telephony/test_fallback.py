"""The fallback numbers Kamailio uses when the call control cannot take a call: the table written
from the database (every spelling of a number, for db_text), by `permanence telephony config` and
`reload`."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from permanence.telephony import fallback
from permanence.telephony.fallback import Fallback

pytestmark = pytest.mark.django_db

ON_CALL = "+33611112222"  # Alpha's on-call number in these tests
ELSEWHERE = "+33622223333"  # the service's own fallback (TELEPHONY_FALLBACK_NUMBER)


# -- the table -------------------------------------------------------------------------------------


def test_each_number_in_service_falls_back_to_its_accounts_on_call_number_or_the_setting(
    alpha, beta, settings
):
    from permanence.accounts.models import PhoneNumber

    alpha.on_call_number = "06 11 11 22 22"  # as an operator may have typed it
    alpha.save(update_fields=["on_call_number"])
    old = PhoneNumber.objects.create(account=alpha, number="+33145000009", label="Ancien")
    PhoneNumber.objects.filter(pk=old.pk).update(released_at=old.assigned_at)  # no longer Alpha's
    settings.TELEPHONY_FALLBACK_NUMBER = ""
    assert fallback.rows() == [
        Fallback("+33145000001", ON_CALL, "alpha"),
        Fallback("+33478000002", "", "beta"),
    ]
    settings.TELEPHONY_FALLBACK_NUMBER = "06 22 22 33 33"
    assert fallback.rows()[1] == Fallback("+33478000002", ELSEWHERE, "beta")


def test_a_fallback_setting_that_is_no_number_is_refused(db, settings):
    settings.TELEPHONY_FALLBACK_NUMBER = "the boss"
    with pytest.raises(fallback.FallbackError, match="TELEPHONY_FALLBACK_NUMBER='the boss'.*E.164"):
        fallback.rows()


@pytest.mark.parametrize(
    ("number", "spelled"),
    [
        ("+33145000001", ["+33145000001", "33145000001", "0033145000001", "0145000001"]),
        ("+262262123456", ["+262262123456", "262262123456", "00262262123456", "0262123456"]),  # Réunion
        ("+442079460000", ["+442079460000", "442079460000", "00442079460000"]),  # not dialled as 020...
    ],
)
def test_a_number_is_found_however_the_carrier_spells_it(number, spelled):
    assert fallback.spellings(number, "FR") == spelled


def test_the_table_is_db_text_with_a_row_per_spelling_and_none_without_fallback(tmp_path):
    path = fallback.write(tmp_path, [Fallback("+33145000001", ON_CALL, "alpha"),
                                     Fallback("+33478000002", "", "beta")], "FR")  # fmt: skip
    assert path.read_text().splitlines() == [
        fallback.COLUMNS,
        f"1:+33145000001:0:0:{ON_CALL}:0",
        f"2:33145000001:0:0:{ON_CALL}:0",
        f"3:0033145000001:0:0:{ON_CALL}:0",
        f"4:0145000001:0:0:{ON_CALL}:0",
    ]
    assert not list(tmp_path.glob(".*"))  # written aside, then moved in place


def test_a_table_rewritten_within_the_same_second_still_looks_newer(tmp_path):
    # db_text reads a table again only when its modification time, in seconds, went forward
    first = fallback.write(tmp_path, [], "FR").stat().st_mtime_ns // 10**9
    second = fallback.write(tmp_path, [Fallback("+33145000001", ON_CALL, "alpha")], "FR")
    assert second.stat().st_mtime_ns // 10**9 > first


def test_the_configuration_keeps_the_table_and_the_command_writes_it(alpha, settings, tmp_path):
    from permanence.telephony import config

    settings.TELEPHONY_SIP_SECRET = "a-long-enough-test-secret"
    config.write(config.Layout(), tmp_path)  # no table yet: an empty one, for Kamailio to start
    assert (tmp_path / "fallback").read_text() == fallback.COLUMNS + "\n"
    alpha.on_call_number = ON_CALL
    alpha.save(update_fields=["on_call_number"])
    out = io.StringIO()
    call_command("telephony", "config", "--out", str(tmp_path), stdout=out)
    assert f"1:+33145000001:0:0:{ON_CALL}:0" in (tmp_path / "fallback").read_text()
    assert "1 of 1 numbers have a fallback number" in out.getvalue()
    config.write(config.Layout(), tmp_path)  # the configuration again: the table stays
    assert ON_CALL in (tmp_path / "fallback").read_text()


def test_the_command_says_which_numbers_have_no_fallback(alpha, beta, settings, tmp_path):
    settings.TELEPHONY_SIP_SECRET = "a-long-enough-test-secret"
    out = io.StringIO()
    call_command("telephony", "config", "--out", str(tmp_path), stdout=out)
    assert "0 of 2 numbers have a fallback number" in out.getvalue()
    assert "+33145000001, +33478000002" in out.getvalue()
    settings.TELEPHONY_FALLBACK_NUMBER = "not a number"
    with pytest.raises(CommandError, match="TELEPHONY_FALLBACK_NUMBER"):
        call_command("telephony", "config", "--out", str(tmp_path))


def test_reload_says_when_kamailio_is_not_running(alpha, tmp_path):
    if not __import__("shutil").which("kamcmd"):
        pytest.skip("kamcmd is not installed (apt-get install kamailio)")
    with pytest.raises(CommandError, match="Kamailio is not running: no control socket"):
        call_command("telephony", "reload", "--out", str(tmp_path))
    assert (tmp_path / "fallback").exists()  # written all the same: Kamailio loads it when it starts
