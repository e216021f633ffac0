"""Writing to the audit trail: one function, called by the domain actions and views."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest

from permanence.audit.models import Action, AuditEvent


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: the connection's, or behind ``PROXY_COUNT`` reverse proxies the one the
    outermost of them saw (the PROXY_COUNT-th of X-Forwarded-For from the right: each proxy appends the
    address it was reached from; what the client wrote itself lies further left and is never read).
    The audit trail records it and failed sign-ins are counted against it (``AXES_CLIENT_IP_CALLABLE``)."""
    if request is None:
        return None
    count = settings.PROXY_COUNT
    if count:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= count:
            hop = hops[-count]
            if hop.startswith("[") and "]" in hop:  # [v6]:port
                hop = hop[1 : hop.index("]")]
            elif hop.count(":") == 1:  # v4:port
                hop = hop.partition(":")[0]
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                pass  # not an address: the connection's below
    return request.META.get("REMOTE_ADDR") or None


def tenant(obj: models.Model) -> Any:
    """The account an object belongs to: itself for an account, its own ``account``, or its
    collaborator's or service's (an absence, a transfer window)."""
    if obj._meta.label_lower == "accounts.account":
        return obj.pk
    if hasattr(obj, "account_id"):
        return obj.account_id
    parent = getattr(obj, "collaborator", None) or getattr(obj, "service", None)
    return getattr(parent, "account_id", None)


def record(
    actor: Any,
    action: Action | str,
    obj: models.Model | None = None,
    *,
    account: Any = None,
    object_type: str | None = None,
    object_id: str = "",
    object_repr: str = "",
    request: HttpRequest | None = None,
    ip: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append one event. ``obj`` fills type, id and text; ``account`` the tenant; the client's address is
    the ``request``'s, or ``ip`` (a domain action called without the request)."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
        if account is None:
            account = tenant(obj)
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        actor=actor if is_user else None,
        actor_name=(actor.get_username() if is_user else "system")[:150],
        action=str(action),
        object_type=object_type or "",
        object_id=object_id,
        object_repr=object_repr,
        account_id=account.pk if hasattr(account, "pk") else account,
        detail=detail,
        ip_address=client_ip(request) if request is not None else ip,
    )
