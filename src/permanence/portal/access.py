"""Sign-in requirements shared by every page: signed in, and second factor if enabled."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_otp import user_has_device


def needs_second_factor(request: HttpRequest) -> bool:
    user = request.user
    return bool(
        user.is_authenticated
        and not user.is_verified()  # type: ignore[union-attr]
        and user_has_device(user)
    )


def member_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in, active user who has passed the second factor when they enabled one."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated or not request.user.is_active:
            return redirect_to_login(request.get_full_path())
        if needs_second_factor(request):
            return redirect(f"/login/verify/?next={request.get_full_path()}")
        return view(request, *args, **kwargs)

    return wrapper
