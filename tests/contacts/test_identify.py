import pytest

from factories import make_contact
from permanence.contacts.identify import identify


@pytest.mark.parametrize("called", ["01 45 00 00 01", "+33 1 45 00 00 01", "0033145000001",
                                    "+33145000001"])
@pytest.mark.parametrize("caller", ["06 11 11 11 11", "+33611111111", "0033 6 11 11 11 11"])
def test_any_spelling_finds_account_and_contact(alpha, beta, called, caller):
    result = identify(called, caller)
    assert result.account == alpha
    assert result.caller == "+33611111111"
    assert [str(c) for c in result.contacts] == ["Albert Client"]
    assert result.known and not result.withheld
    assert result.history == []


def test_caller_known_only_in_another_account_is_unknown_here(alpha, beta):
    result = identify("0145000001", "0622222222")  # Beta's contact calling Alpha
    assert result.account == alpha
    assert result.contacts == [] and not result.known


def test_withheld_and_garbage_caller(alpha):
    for caller in (None, "", "anonymous", "+"):
        result = identify("0145000001", caller)
        assert result.account == alpha and result.withheld and result.contacts == []


def test_unknown_called_number(alpha):
    assert identify("0199999999", "0611111111").account is None
    assert identify("not a number", "0611111111").called is None


def test_shared_number_gives_every_matching_contact(alpha):
    make_contact(alpha, ("+33611111111",), first_name="Alice", last_name="Client")
    result = identify("0145000001", "0611111111")
    assert [str(c) for c in result.contacts] == ["Albert Client", "Alice Client"]


def test_released_number_no_longer_identifies(alpha):
    from permanence.accounts.actions import release_number

    release_number(alpha.numbers.get())
    assert identify("0145000001", "0611111111").account is None
