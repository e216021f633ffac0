"""Remote calendars a collaborator already uses, behind a small interface: read what changed since
the last sync, write an event, delete one. ``BACKENDS`` is the registry (``permanence.adapters``), by
a calendar link's kind; CalDAV (RFC 4791, with the incremental sync of RFC 6578) is the one shipped,
through the ``caldav`` library.

Only Django's gettext and settings here (errors are shown to the operator); the sync (``caldav_sync``)
stores what this returns. Every connection to the calendar's server, redirects included, goes through
``permanence.outbound``'s filter (public addresses, ``OUTBOUND_ALLOWED_NETWORKS``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin

from django.conf import settings
from django.utils.translation import gettext as _

from permanence import outbound
from permanence.adapters import Registry, UnknownAdapter

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15


def address_filter() -> outbound.Filter:
    """Where a calendar's server may be: a public address, or in ``OUTBOUND_ALLOWED_NETWORKS``; anywhere
    with the older ``CALENDAR_ALLOW_PRIVATE_ADDRESSES``."""
    return outbound.Filter.of(
        settings.OUTBOUND_ALLOWED_NETWORKS, everything=settings.CALENDAR_ALLOW_PRIVATE_ADDRESSES
    )


class CalendarError(Exception):
    """The remote calendar could not be reached or refused; the message is for the operator."""


@dataclass(frozen=True)
class RemoteObject:
    href: str
    etag: str
    data: str | None  # the iCalendar text; None: deleted there


@dataclass(frozen=True)
class Changes:
    """What changed since ``token`` was handed out. ``complete``: the server could not say (first sync,
    expired token, no RFC 6578 support), so this lists every object and whatever is not listed is gone."""

    objects: list[RemoteObject]
    token: str
    complete: bool


class RemoteCalendar(Protocol):
    def changes(self, token: str) -> Changes: ...

    def put(self, name: str, ical: bytes) -> str:
        """Create or replace the object ``name`` (e.g. ``<uid>.ics``) in the calendar; its href."""
        ...

    def delete(self, href: str) -> None:
        """Delete the object; already gone is fine."""
        ...


class CalDAVCalendar:
    """One calendar collection on a CalDAV server (Nextcloud, Radicale, iCloud, Fastmail, Google's
    CalDAV endpoint…), addressed by its URL."""

    def __init__(self, url: str, username: str = "", password: str = "") -> None:
        import caldav

        if not url.startswith(("http://", "https://")):
            raise CalendarError(_("The address must start with https:// (or http://)."))
        self.url = url if url.endswith("/") else url + "/"
        self._client = caldav.DAVClient(
            url=self.url,
            username=username or None,
            password=password or None,
            timeout=TIMEOUT_SECONDS,
            enable_rfc6764=False,  # the address is the calendar's own: no DNS discovery
        )
        # caldav's own niquests session, swapped for one that connects only where the filter allows
        self._client.session.close()
        self._client.session = address_filter().niquests_session()
        self._calendar = self._client.calendar(url=self.url)

    def _guard(self, action: str, call: Callable[[], Any]) -> Any:
        from caldav.lib import error

        try:
            return call()
        except outbound.AddressNotAllowed:
            raise CalendarError(
                _("%(action)s: address not allowed: not a public address.") % {"action": action}
            ) from None
        except error.AuthorizationError:
            raise CalendarError(
                _("%(action)s: the server refused the credentials.") % {"action": action}
            ) from None
        except error.NotFoundError:
            raise CalendarError(_("%(action)s: no calendar at this address.") % {"action": action}) from None
        except error.DAVError as exc:
            raise CalendarError(
                _("%(action)s: the server answered %(answer)s.") % {"action": action, "answer": _short(exc)}
            ) from None
        except (OSError, ValueError) as exc:  # refused, timeout, TLS (the HTTP stack's errors are OSErrors)
            raise CalendarError(_network_problem(action, exc)) from None

    def changes(self, token: str) -> Changes:
        def incremental() -> Any:
            return self._calendar.get_objects_by_sync_token(
                sync_token=token, load_objects=True, disable_fallback=True
            )

        def full() -> Any:
            return self._calendar.get_objects_by_sync_token(load_objects=True)

        complete = not token
        if token:
            try:
                result = self._guard(_("Reading the calendar"), incremental)
            except CalendarError:
                # An expired token, or a server without RFC 6578: list everything, compare.
                logger.info("calendar %s: incremental sync refused, full listing", self.url)
                complete = True
        if complete:
            result = self._guard(_("Reading the calendar"), full)
        deleted = {str(url) for url in getattr(result, "deleted_urls", None) or ()}
        objects = []
        for obj in result:
            href = str(obj.url)
            data = None if href in deleted else obj.data
            etag = (getattr(obj, "props", None) or {}).get("{DAV:}getetag", "") or ""
            objects.append(RemoteObject(href, str(etag), str(data) if data else None))
        return Changes(objects, str(result.sync_token or ""), complete)

    def put(self, name: str, ical: bytes) -> str:
        import caldav

        href = urljoin(self.url, name)
        event = caldav.Event(client=self._client, url=href, data=ical.decode(), parent=self._calendar)
        self._guard(_("Writing to the calendar"), lambda: event.save(increase_seqno=False))
        return str(event.url)

    def delete(self, href: str) -> None:
        response = self._guard(_("Deleting from the calendar"), lambda: self._client.delete(href))
        if response.status not in (200, 204, 404, 410):
            raise CalendarError(
                _("%(action)s: the server answered %(answer)s.")
                % {"action": _("Deleting from the calendar"), "answer": response.status}
            )


def _network_problem(action: str, exc: BaseException) -> str:
    names = " ".join(kind.__name__ for kind in type(exc).__mro__)
    if "Timeout" in names or isinstance(exc, TimeoutError):
        return _("%(action)s: no answer from the server within %(seconds)s s.") % {
            "action": action,
            "seconds": TIMEOUT_SECONDS,
        }
    if "SSL" in names:
        return _("%(action)s: the secure connection failed (certificate?).") % {"action": action}
    if isinstance(exc, ValueError):
        return _("%(action)s: %(problem)s") % {"action": action, "problem": _short(exc)}
    return _("%(action)s: the server cannot be reached.") % {"action": action}


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


#: what opens a remote calendar, by kind (a ``CalendarLink``'s ``kind``)
BACKENDS: Registry[Callable[..., RemoteCalendar]] = Registry("calendar")
BACKENDS.register("caldav", CalDAVCalendar)


def connect(kind: str, url: str, username: str = "", password: str = "") -> RemoteCalendar:
    try:
        factory = BACKENDS.get(kind)
    except UnknownAdapter:
        raise CalendarError(f"Unknown calendar kind {kind!r}.") from None
    return factory(url, username, password)
