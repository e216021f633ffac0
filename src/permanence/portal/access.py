"""Sign-in requirements shared by every page, the API and the desk's WebSocket: signed in, and past
the second factor when the user enabled one, or when their role requires one (operator staff who reach
every account: operator admins and technical assistants, the supervisors)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_otp import DEVICE_ID_SESSION_KEY, user_has_device
from django_otp.models import Device

from permanence.users.models import BACK_OFFICE_ROLES

ENROL = "/security/two-factor/"


def second_factor_required(user: Any) -> bool:
    """The role must sign in with a second factor (``SECOND_FACTOR_REQUIRED``, on by default)."""
    return bool(getattr(settings, "SECOND_FACTOR_REQUIRED", True)) and user.role in BACK_OFFICE_ROLES


def needs_second_factor(request: HttpRequest) -> bool:
    """Signed in, but the second factor that applies is not passed yet (or not even set up)."""
    user = request.user
    return bool(
        user.is_authenticated
        and not user.is_verified()  # type: ignore[union-attr]
        and (user_has_device(user) or second_factor_required(user))
    )


def session_passes_second_factor(user: Any, session: Any) -> bool:
    """For a connection without Django's request (the desk's WebSocket): the session's verified
    device, as django-otp's middleware reads it, belongs to this user (or none is needed)."""
    if not user_has_device(user) and not second_factor_required(user):
        return True
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed


def second_factor_page(request: HttpRequest) -> str:
    """Where a user who has not passed the second factor goes: the code, or setting one up."""
    path = request.get_full_path()
    if user_has_device(request.user):
        return f"/login/verify/?next={path}"
    return ENROL


def member_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in, active user who has passed the second factor that applies to them."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated or not request.user.is_active:
            return redirect_to_login(request.get_full_path())
        if needs_second_factor(request):
            return redirect(second_factor_page(request))
        return view(request, *args, **kwargs)

    return wrapper
