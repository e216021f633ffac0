"""The Django admin is the operator's back-office: staff only, second factor enforced."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_otp import user_has_device

from permanence.portal.access import ENROL, needs_second_factor


def protect_admin(site: AdminSite) -> None:
    site.site_header = _("Permanence: back-office")
    site.site_title = _("Permanence")
    site.index_title = _("Back-office")
    original = site.has_permission

    def has_permission(request: HttpRequest) -> bool:
        return bool(original(request)) and not needs_second_factor(request)

    site.has_permission = has_permission  # type: ignore[method-assign]

    def login(request: HttpRequest, extra_context: Any = None) -> Any:
        from django.shortcuts import redirect

        if request.user.is_authenticated and needs_second_factor(request):
            if user_has_device(request.user):
                return redirect(f"/login/verify/?next={request.GET.get('next', '/admin/')}")
            return redirect(ENROL)
        return redirect(f"/login/?next={request.GET.get('next', '/admin/')}")

    site.login = login  # type: ignore[method-assign]
