"""Small factories for tests: one call builds a valid object."""

from __future__ import annotations

from datetime import time
from typing import Any

PASSWORD = "correct horse battery staple"


def make_account(slug: str, *, office_hours: bool = False, **fields: Any) -> Any:
    """An active account. Open round the clock every day, holidays included, so that a test's calls are
    served whatever the day and hour the suite runs; ``office_hours``: Monday to Friday 9:00-18:00,
    closed on public holidays (for tests about the hours themselves)."""
    from permanence.accounts.models import Account, WeeklyHours

    fields.setdefault("name", slug.title())
    fields.setdefault("greeting", f"{fields['name']}, bonjour")
    fields.setdefault("default_recipients", f"accueil@{slug}.example")
    if not office_hours:
        fields.setdefault("closed_on_holidays", False)
    account = Account.objects.create(slug=slug, **fields)
    for day in range(5 if office_hours else 7):
        opens, closes = (time(9), time(18)) if office_hours else (time(0), time(0))
        WeeklyHours.objects.create(account=account, weekday=day, opens=opens, closes=closes)
    return account


def make_user(username: str, role: str, account: Any = None, **fields: Any) -> Any:
    from permanence.users.models import User

    user = User(username=username, role=role, account=account, **fields)
    user.set_password(PASSWORD)
    user.save()
    return user


def make_contact(account: Any, numbers: tuple[str, ...] = (), **fields: Any) -> Any:
    from permanence.contacts.models import Contact, ContactNumber

    fields.setdefault("last_name", "Martin")
    contact = Contact.objects.create(account=account, **fields)
    for number in numbers:
        ContactNumber.objects.create(contact=contact, account=account, number=number)
    return contact


def office_hours(account: Any) -> Any:
    """Replace an account's hours with Monday to Friday 9:00-18:00, closed on public holidays."""
    from permanence.accounts.models import WeeklyHours

    account.weekly_hours.all().delete()
    for day in range(5):
        WeeklyHours.objects.create(account=account, weekday=day, opens=time(9), closes=time(18))
    account.closed_on_holidays = True
    account.save(update_fields=["closed_on_holidays"])
    return account


def session_key_for(user: Any, device: Any = None) -> str:
    """The key of a session of ``user`` signed in, made directly (no password; ``device``: the second
    factor passed, as django_otp.login records it): what a bot's or a socket's cookie carries."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if device is not None:
        from django_otp import DEVICE_ID_SESSION_KEY

        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.create()
    assert session.session_key is not None
    return session.session_key
