"""Outbound HTTP to an address someone typed: a collaborator's CalDAV calendar, an account's webhook, a
browser's Web Push endpoint. Such a request must not be a way into the server's own networks (SSRF).

The rule: an address is allowed if the standard library says it is global
(``ipaddress.ip_address(a).is_global``, which leaves out private, loopback, link-local, shared,
reserved, documentation… ranges, as ``ipaddress`` lists them; an IPv4-mapped IPv6 address is judged
as its IPv4 address), or if it is in one of the networks the operator allows
(``OUTBOUND_ALLOWED_NETWORKS``, e.g. a CalDAV server on the LAN).

The check is made **when connecting**: the name is resolved once, every address it gives is checked
(one refused address refuses the name), and the socket connects to a checked address, so a name that
resolves elsewhere than when it was saved (DNS rebinding) is refused; a redirect opens its own
connection the same way. Two HTTP stacks are hooked: urllib (``Filter.opener``: webhooks, Web Push)
through its connections' ``_create_connection``, and niquests (``Filter.niquests_session``: the
``caldav`` library's) through a resolver. Neither goes through a proxy from the environment, which
would resolve the name itself.

Plain Python: the callers pass the settings in (``Filter.of``).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]
Connect = Callable[..., socket.socket]

NOT_PUBLIC = "address not allowed: not a public address"
UNKNOWN_NAME = "unknown server name"


class AddressNotAllowed(Exception):
    """Raised while connecting: the name resolves to an address the filter refuses. Not an OSError, so
    that the HTTP libraries let it through as it is (neither wrapped nor retried)."""

    def __init__(self, host: str) -> None:
        super().__init__(NOT_PUBLIC)
        self.host = host


def networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Networks in CIDR notation (a bare address is one address)."""
    found = []
    for item in items:
        try:
            found.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"OUTBOUND_ALLOWED_NETWORKS: {item!r} is not a network (CIDR)") from None
    return tuple(found)


def is_allowed(address: str, allow: Iterable[Network] = ()) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_global and not ip.is_multicast:
        return True
    return any(ip in network for network in allow)


@dataclass(frozen=True)
class Filter:
    allow: tuple[Network, ...] = ()
    everything: bool = False  # no filter at all (the older CALENDAR_ALLOW_PRIVATE_ADDRESSES)

    @classmethod
    def of(cls, allowed_networks: Iterable[str], *, everything: bool = False) -> Filter:
        """From the settings."""
        return cls(networks(allowed_networks), everything)

    def resolve(
        self,
        host: str,
        port: int | str | None,
        family: int = 0,
        kind: int = socket.SOCK_STREAM,
        proto: int = 0,
        flags: int = 0,
    ) -> list[AddrInfo]:
        """``socket.getaddrinfo``, refused (AddressNotAllowed) if any address it gives is not allowed."""
        infos = cast(list[AddrInfo], socket.getaddrinfo(host, port, family, kind, proto, flags))
        if self.everything:
            return infos
        if not infos or not all(is_allowed(str(info[4][0]), self.allow) for info in infos):
            raise AddressNotAllowed(host)
        return infos

    def url_problem(self, url: str) -> str:
        """Before saving an address: "" if its server name resolves to allowed addresses, else
        NOT_PUBLIC or UNKNOWN_NAME. Connecting checks again."""
        try:
            host = urlsplit(url).hostname or ""
            if host:
                self.resolve(host, None)
                return ""
        except AddressNotAllowed:
            return NOT_PUBLIC
        except (OSError, UnicodeError, ValueError):
            pass
        return UNKNOWN_NAME

    def create_connection(
        self, address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        """``socket.create_connection`` to the checked addresses of one resolution."""
        host, port = address
        error: OSError | None = None
        for family, kind, proto, _name, sockaddr in self.resolve(host, port):
            sock = socket.socket(family, kind, proto)
            try:
                if timeout is None or isinstance(timeout, int | float):
                    sock.settimeout(timeout)  # else http.client's "global default" marker
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        assert error is not None
        raise error

    def opener(self) -> urllib.request.OpenerDirector:
        """A urllib opener for http(s) only, every connection (redirects too) made by
        ``create_connection``; no proxy, no ftp or file URLs."""
        director = urllib.request.OpenerDirector()
        for handler in (
            _HTTPHandler(self.create_connection),
            _HTTPSHandler(self.create_connection),
            urllib.request.HTTPRedirectHandler(),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
            urllib.request.UnknownHandler(),
        ):
            director.add_handler(handler)
        return director

    def niquests_session(self) -> Any:
        """A niquests Session whose every connection (redirects too) resolves through ``resolve``; only
        http(s) (niquests also mounts Unix sockets), nothing from the environment (proxies, .netrc)."""
        import niquests
        from niquests.packages.urllib3.contrib.resolver import (  # type: ignore[import-not-found]
            BaseResolver,
            ProtocolResolver,
        )

        check = self.resolve

        class CheckedResolver(BaseResolver):  # type: ignore[misc]
            protocol = ProtocolResolver.CUSTOM
            implementation = "permanence.outbound"

            def __init__(self) -> None:
                super().__init__(None, None)

            def recycle(self) -> BaseResolver:
                return self

            def close(self) -> None:
                pass

            def is_available(self) -> bool:
                return True

            def getaddrinfo(
                self, host: Any, port: Any, family: Any, type: Any, proto: int = 0, flags: int = 0, **_: Any
            ) -> list[AddrInfo]:
                name = host.decode("ascii") if isinstance(host, bytes) else str(host)
                return check(name, port, family, type, proto, flags)

        session = niquests.Session(resolver=CheckedResolver(), disable_http3=True)
        session.trust_env = False
        for prefix in [p for p in session.adapters if p not in ("http://", "https://")]:
            del session.adapters[prefix]
        return session


def _made_with(connect: Connect, kind: type[http.client.HTTPConnection]) -> Callable[..., Any]:
    def make(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
        connection = kind(*args, **kwargs)
        connection._create_connection = connect  # type: ignore[attr-defined]  # what connect() calls
        return connection

    return make


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, connect: Connect) -> None:
        super().__init__()
        self._connect = connect

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_made_with(self._connect, http.client.HTTPConnection), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, connect: Connect) -> None:
        super().__init__()
        self._connect = connect

    def https_open(self, req: urllib.request.Request) -> Any:
        context = self._context  # type: ignore[attr-defined]
        return self.do_open(_made_with(self._connect, http.client.HTTPSConnection), req, context=context)
