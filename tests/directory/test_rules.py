from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from permanence.directory.rules import (
    Absence,
    TransferMode,
    TransferRule,
    Verdict,
    Window,
    current_absence,
    decide_transfer,
)

PARIS = ZoneInfo("Europe/Paris")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)
MONDAY_15 = datetime(2026, 11, 23, 15, 0, tzinfo=PARIS)
AFTERNOONS = tuple(Window(d, time(14), time(17, 30)) for d in range(4))


def test_always_and_never():
    assert decide_transfer(TransferRule(), local_time=MONDAY_10).verdict is Verdict.PUT_THROUGH
    never = TransferRule(mode=TransferMode.NEVER, urgent_bypass=True)
    decision = decide_transfer(never, local_time=MONDAY_10, urgent=True)
    assert decision.verdict is Verdict.TAKE_MESSAGE
    assert decision.reasons == ("never",)


def test_windows():
    rule = TransferRule(mode=TransferMode.CONDITIONAL, windows=AFTERNOONS)
    assert decide_transfer(rule, local_time=MONDAY_15).allowed
    refused = decide_transfer(rule, local_time=MONDAY_10)
    assert refused.verdict is Verdict.TAKE_MESSAGE and refused.reasons == ("outside_windows",)
    friday_15 = MONDAY_15 + timedelta(days=4)
    assert not decide_transfer(rule, local_time=friday_15).allowed
    # end is exclusive, start inclusive
    assert decide_transfer(rule, local_time=MONDAY_15.replace(hour=14, minute=0)).allowed
    assert not decide_transfer(rule, local_time=MONDAY_15.replace(hour=17, minute=30)).allowed


def test_window_until_midnight():
    night = Window(0, time(20), time(0))
    assert night.contains(MONDAY_10.replace(hour=23, minute=59))
    assert not night.contains(MONDAY_10.replace(hour=19, minute=59))


def test_caller_types_and_urgency():
    rule = TransferRule(mode=TransferMode.CONDITIONAL, caller_types=frozenset({"client"}))
    assert decide_transfer(rule, local_time=MONDAY_10, caller_type="client").allowed
    prospect = decide_transfer(rule, local_time=MONDAY_10, caller_type="prospect")
    assert prospect.reasons == ("caller_type",)
    urgent_only = TransferRule(mode=TransferMode.CONDITIONAL, urgent_only=True)
    assert not decide_transfer(urgent_only, local_time=MONDAY_10).allowed
    assert decide_transfer(urgent_only, local_time=MONDAY_10, urgent=True).allowed


def test_all_conditions_must_hold_unless_urgent_bypass():
    rule = TransferRule(mode=TransferMode.CONDITIONAL, windows=AFTERNOONS,
                        caller_types=frozenset({"client"}))
    both_wrong = decide_transfer(rule, local_time=MONDAY_10, caller_type="prospect")
    assert both_wrong.reasons == ("outside_windows", "caller_type")
    assert not decide_transfer(rule, local_time=MONDAY_10, caller_type="client").allowed
    assert not decide_transfer(rule, local_time=MONDAY_10, caller_type="prospect", urgent=True).allowed
    bypass = TransferRule(mode=TransferMode.CONDITIONAL, windows=AFTERNOONS, urgent_bypass=True)
    decision = decide_transfer(bypass, local_time=MONDAY_10, urgent=True)
    assert decision.allowed and decision.reasons == ("urgent_bypass",)


def test_absence_wins_and_names_the_replacement():
    leave = Absence("leave", MONDAY_10 - timedelta(days=1), MONDAY_10 + timedelta(hours=1),
                    replacement_id=7)
    decision = decide_transfer(TransferRule(), local_time=MONDAY_10, absences=[leave])
    assert decision.verdict is Verdict.ABSENT
    assert decision.replacement_id == 7
    after = decide_transfer(TransferRule(), local_time=MONDAY_10 + timedelta(hours=1),
                            absences=[leave])
    assert after.allowed  # the absence ends exclusive


def test_current_absence_latest_started_wins_and_open_ended():
    long = Absence("leave", MONDAY_10 - timedelta(days=10), None)
    meeting = Absence("meeting", MONDAY_10 - timedelta(minutes=5), MONDAY_10 + timedelta(hours=1))
    assert current_absence([long, meeting], MONDAY_10) is meeting
    assert current_absence([long, meeting], MONDAY_10 + timedelta(days=300)) is long
    assert current_absence([meeting], MONDAY_10 - timedelta(hours=1)) is None


# ---------------------------------------------------------------- the caller-type vocabulary


def test_vocabulary_codes_are_english_words_in_one_place():
    from permanence.directory.rules import CALLER_TYPES, CallerType

    assert CALLER_TYPES[:6] == ("client", "prospect", "colleague", "supplier", "cold_caller", "job_seeker")
    assert set(CALLER_TYPES) == {t.value for t in CallerType}
    assert all(code.isascii() and code == code.lower() for code in CALLER_TYPES)


def test_french_words_of_the_old_rules_map_to_codes():
    from permanence.directory.rules import caller_type_code

    assert caller_type_code("confrère") == "colleague"
    assert caller_type_code(" Confrères ") == "colleague"
    assert caller_type_code("consœur") == "colleague"
    assert caller_type_code("Fournisseur") == "supplier"
    assert caller_type_code("démarchage") == "cold_caller"
    assert caller_type_code("Nouveau client") == "prospect"
    assert caller_type_code("client") == "client"
    assert caller_type_code("cold_caller") == "cold_caller"
    assert caller_type_code("avocat") is None
    assert caller_type_code("") is None


def test_parse_keeps_unknown_words_as_written():
    from permanence.directory.rules import parse_caller_types

    codes, unknown = parse_caller_types("client, confrère; Huissier, clients, avocat")
    assert codes == ("client", "colleague")
    assert unknown == ("Huissier", "avocat")
    assert parse_caller_types("") == ((), ())


def test_a_colleague_is_put_through_to_a_rule_written_confrere():
    """The scenario option `colleague` meets the rule that says « confrère » (issue 14)."""
    from permanence.directory.rules import parse_caller_types

    codes, _unknown = parse_caller_types("client, confrère")
    rule = TransferRule(mode=TransferMode.CONDITIONAL, caller_types=frozenset(codes))
    assert decide_transfer(rule, local_time=MONDAY_10, caller_type="colleague").allowed
    # a scenario that still passes the French word is understood too
    assert decide_transfer(rule, local_time=MONDAY_10, caller_type="Confrère").allowed
    assert decide_transfer(rule, local_time=MONDAY_10, caller_type="supplier").reasons == ("caller_type",)
