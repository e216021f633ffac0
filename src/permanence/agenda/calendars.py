"""Remote calendars a collaborator already uses, behind a small interface: read what changed since
the last sync, write an event, delete one. ``BACKENDS`` is the registry; CalDAV (RFC 4791, with the
incremental sync of RFC 6578) is the one shipped, through the ``caldav`` library.

No Django here: the sync (``caldav_sync``) stores what this returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15


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
            raise CalendarError("The calendar address must start with http:// or https://.")
        self.url = url if url.endswith("/") else url + "/"
        self._client = caldav.DAVClient(
            url=self.url,
            username=username or None,
            password=password or None,
            timeout=TIMEOUT_SECONDS,
            enable_rfc6764=False,  # the address is the calendar's own: no DNS discovery
        )
        self._calendar = self._client.calendar(url=self.url)

    def _guard(self, action: str, call: Callable[[], Any]) -> Any:
        from caldav.lib import error

        try:
            return call()
        except error.AuthorizationError:
            raise CalendarError(f"{action}: the server refused the credentials.") from None
        except error.NotFoundError:
            raise CalendarError(f"{action}: no calendar at this address.") from None
        except error.DAVError as exc:
            raise CalendarError(f"{action}: the server answered {_short(exc)}.") from None
        except (OSError, ValueError) as exc:  # connection refused, timeout, TLS, bad URL
            raise CalendarError(f"{action}: {_short(exc)}.") from None
        except Exception as exc:  # the HTTP stack's own errors (niquests) do not share a base we import
            if type(exc).__module__.split(".")[0] in {"niquests", "urllib3", "urllib3_future", "requests"}:
                raise CalendarError(f"{action}: {_short(exc)}.") from None
            raise

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
                result = self._guard("Reading the calendar", incremental)
            except CalendarError:
                # An expired token, or a server without RFC 6578: list everything, compare.
                logger.info("calendar %s: incremental sync refused, full listing", self.url)
                complete = True
        if complete:
            result = self._guard("Reading the calendar", full)
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
        self._guard("Writing to the calendar", lambda: event.save(increase_seqno=False))
        return str(event.url)

    def delete(self, href: str) -> None:
        response = self._guard("Deleting from the calendar", lambda: self._client.delete(href))
        if response.status not in (200, 204, 404, 410):
            raise CalendarError(f"Deleting from the calendar: the server answered {response.status}.")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


BACKENDS: dict[str, Callable[..., RemoteCalendar]] = {"caldav": CalDAVCalendar}


def connect(kind: str, url: str, username: str = "", password: str = "") -> RemoteCalendar:
    try:
        factory = BACKENDS[kind]
    except KeyError:
        raise CalendarError(f"Unknown calendar kind {kind!r}.") from None
    return factory(url, username, password)
