import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from permanence.accounts.actions import assign_number, release_number
from permanence.accounts.models import PhoneNumber
from permanence.audit.models import AuditEvent
from permanence.contacts.identify import account_for_number


def test_assign_normalises_and_is_idempotent(alpha):
    phone = assign_number(alpha, "01 45 00 00 99", label="Nuit")
    assert phone.number == "+33145000099"
    again = assign_number(alpha, "0033145000099")
    assert again.pk == phone.pk
    assert PhoneNumber.objects.filter(number="+33145000099").count() == 1


def test_a_number_belongs_to_one_account_at_a_time(alpha, beta):
    assign_number(alpha, "01 45 00 00 99")
    with pytest.raises(ValidationError) as info:
        assign_number(beta, "+33 1 45 00 00 99")
    assert "Cabinet Alpha" in str(info.value)
    assert account_for_number("0145000099") == alpha


def test_moving_a_number_keeps_history(alpha, beta):
    first = assign_number(alpha, "01 45 00 00 99")
    moved = assign_number(beta, "01 45 00 00 99", move=True)
    first.refresh_from_db()
    assert first.released_at is not None and first.account == alpha
    assert moved.account == beta and moved.released_at is None
    assert account_for_number("+33145000099") == beta
    history = PhoneNumber.objects.filter(number="+33145000099").order_by("assigned_at")
    assert [p.account.slug for p in history] == ["alpha", "beta"]
    assert AuditEvent.objects.filter(object_type="accounts.phonenumber").count() == 3


def test_database_refuses_two_current_holders(alpha, beta):
    PhoneNumber.objects.create(account=alpha, number="+33145000098")
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneNumber.objects.create(account=beta, number="+33145000098")


def test_release_then_reassign(alpha, beta):
    phone = assign_number(alpha, "0145000097")
    release_number(phone)
    assert account_for_number("0145000097") is None
    assert assign_number(beta, "0145000097").account == beta


def test_invalid_number_is_a_clear_error(alpha):
    with pytest.raises(ValidationError) as info:
        assign_number(alpha, "12")
    assert "number" in info.value.message_dict
    assert PhoneNumber.objects.filter(account=alpha).count() == 1
