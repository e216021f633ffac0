"""API authentication: the signed-in session, second factor passed if enabled."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import SessionAuth

from permanence.portal.access import needs_second_factor


class MemberSession(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None or not user.is_active or needs_second_factor(request):
            return None
        return user
