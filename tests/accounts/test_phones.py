import pytest

from permanence.accounts.phones import PhoneNumberError, display, normalize, try_normalize


@pytest.mark.parametrize(
    "text",
    ["01 23 45 67 89", "+33 1 23 45 67 89", "0033123456789", "01.23.45.67.89",
     "+33 (0)1 23 45 67 89", " 0123456789 ", "+33123456789", "01-23-45-67-89"],
)
def test_spellings_of_one_french_number_are_one_number(text):
    assert normalize(text) == "+33123456789"


def test_mobile_and_overseas_numbers():
    assert normalize("06 12 34 56 78") == "+33612345678"
    assert normalize("0262 12 34 56") == "+262262123456"  # La Réunion, dialled from France
    assert normalize("+32 2 555 12 12") == "+3225551212"  # Brussels
    assert normalize("0032 2 555 12 12") == "+3225551212"


def test_another_default_region():
    assert normalize("(202) 555-0143", region="US") == "+12025550143"


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("   ", "empty"), ("abc", "not a phone number"), ("01 23", "not a valid"),
     ("+999 123 456 789", "country code"), ("01 23 45 67 89 12 34 56 78", "not a valid")],
)
def test_invalid_numbers_say_why(text, reason):
    with pytest.raises(PhoneNumberError) as info:
        normalize(text)
    assert reason in str(info.value)


def test_try_normalize_never_raises():
    assert try_normalize(None) is None
    assert try_normalize("anonymous") is None
    assert try_normalize("0611223344") == "+33611223344"


def test_display_national_at_home_international_abroad():
    assert display("+33123456789") == "01 23 45 67 89"
    assert display("+3225551212") == "+32 2 555 12 12"
    assert display("garbage") == "garbage"


def test_is_mobile():
    from permanence.accounts.phones import is_mobile

    assert is_mobile("+33612345678") and is_mobile("+33699887766")
    assert not is_mobile("+33145000001") and not is_mobile("nonsense")
