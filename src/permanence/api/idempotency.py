"""``Idempotency-Key`` on the POSTs that create something: sent again with the same key (a retry after
a lost answer), the request gets the first answer back and creates nothing more.

The key is the caller's (per user or API key); kept 24 hours. The same key with another request
(method, path or body) is refused (422); while the first is still being answered, a second gets 409.
Only successful answers are kept: after an error the same key may be tried again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Status
from ninja.errors import HttpError
from ninja.responses import NinjaJSONEncoder

from permanence.api.models import IdempotentRequest

HEADER = "Idempotency-Key"
KEPT = timedelta(hours=24)
MAX_KEY = 255


def _fingerprint(request: HttpRequest) -> str:
    parts = [(request.method or "").encode(), request.path.encode(), request.body]
    return hashlib.sha256(b"\n".join(parts)).hexdigest()


def run(request: HttpRequest, answer: Callable[[], Any]) -> Any:
    """``answer()`` once per ``Idempotency-Key`` (see the module's text); without the header, always."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return answer()
    if len(key) > MAX_KEY:
        raise HttpError(422, f"{HEADER}: {MAX_KEY} characters at most.")
    fingerprint = _fingerprint(request)
    expired = timezone.now() - KEPT
    IdempotentRequest.objects.filter(user=request.user, key=key, created_at__lt=expired).delete()
    try:
        with transaction.atomic():
            row = IdempotentRequest.objects.create(user=request.user, key=key, fingerprint=fingerprint)
    except IntegrityError:
        first = IdempotentRequest.objects.get(user=request.user, key=key)
        if first.fingerprint != fingerprint:
            raise HttpError(422, f"This {HEADER} was used for another request.") from None
        if first.status is None:
            raise HttpError(409, f"The first request with this {HEADER} is still being answered.") \
                from None
        return Status(first.status, first.body)
    try:
        result = answer()
    except BaseException:
        row.delete()
        raise
    status, value = (result.status_code, result.value) if isinstance(result, Status) else (200, result)
    if 200 <= status < 300:
        row.status, row.body = status, json.loads(json.dumps(value, cls=NinjaJSONEncoder))
        row.save(update_fields=["status", "body"])
    else:
        row.delete()
    return result
