"""API keys: created and revoked by the client admin (audited), checked on each request.

A key reads ``pk_<prefix>_<secret>``: the prefix finds the row, the SHA-256 digest of the whole key
is compared in constant time (the key is 190 random bits: a fast hash is enough, nothing to slow).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.accounts.models import Account
from permanence.api.models import ApiKey, Scope
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.users.models import Role

PREFIX = "pk_"
LAST_USE_EVERY = timedelta(minutes=1)  # ``last_used_at`` is written at most this often
MAX_KEYS = 20  # live keys per account


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(account: Account, name: str, scope: str, *, actor: Any = None,
           request: Any = None) -> tuple[ApiKey, str]:
    """A new key and its text (shown once; only its digest is kept)."""
    name = " ".join((name or "").split())[:100]
    if not name:
        raise ValidationError({"name": _("Name the key after the system that uses it.")})
    if scope not in Scope.values:
        raise ValidationError({"scope": _("Pick what the key may do.")})
    if ApiKey.objects.filter(account=account, revoked_at__isnull=True).count() >= MAX_KEYS:
        raise ValidationError({"name": _("%(n)d live keys at most: revoke one first.") % {"n": MAX_KEYS}})
    prefix = secrets.token_hex(4)
    token = f"{PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    with transaction.atomic():
        user = get_user_model().objects.create(
            username=f"api-{prefix}", first_name=name[:150], account=account,
            role=Role.CLIENT_ADMIN if scope == Scope.WRITE else Role.CLIENT_USER,
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        key = ApiKey.objects.create(account=account, user=user, name=name, prefix=prefix,
                                    digest=_digest(token), scope=scope,
                                    created_by=actor if getattr(actor, "pk", None) else None)
        trail.record(actor, Action.CREATE, key, account=account, request=request, scope=scope, prefix=prefix)
    return key, token


def revoke(key: ApiKey, *, actor: Any = None, request: Any = None) -> ApiKey:
    """The key stops working at once (kept, with its history)."""
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().select_related("user").get(pk=key.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            locked.user.is_active = False
            locked.user.save(update_fields=["is_active"])
            trail.record(actor, Action.UPDATE, locked, account=locked.account_id, request=request,
                         revoked=True)
    return locked


def authenticate(token: str) -> ApiKey | None:
    """The live key ``token`` is, or None."""
    if not token.startswith(PREFIX) or token.count("_") < 2:
        return None
    prefix = token[len(PREFIX):].split("_", 1)[0]
    key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).select_related("user").first()
    if key is None or not hmac.compare_digest(key.digest, _digest(token)) or not key.user.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USE_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
