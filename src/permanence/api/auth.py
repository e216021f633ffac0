"""API authentication: the signed-in session (second factor passed if enabled), or an API key
(``Authorization: Bearer pk_…``) of a client account; a read key may only read."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from permanence.api import keys
from permanence.api.models import Scope
from permanence.portal.access import needs_second_factor

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class MemberSession(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None or not user.is_active or needs_second_factor(request):
            return None
        return user


class ApiKeyBearer(HttpBearer):
    """A client account's API key: the request acts as the key's own user (client user or admin)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        key = keys.authenticate(token)
        if key is None:
            return None
        if key.scope == Scope.READ and request.method not in SAFE_METHODS:
            raise HttpError(403, "This API key may only read.")
        request.user = key.user
        return key.user
