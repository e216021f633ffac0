"""The filter of outbound requests to typed addresses (``permanence.outbound``), with real HTTP servers on
127.0.0.2 (allowed by the operator's list) and 127.0.0.3 (refused); test names resolve to them.

The rule is the standard library's ``ipaddress.ip_address(a).is_global``: the special ranges it leaves
out (private, shared, link-local, reserved…) are not written here, where only loopback addresses are.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.request

import pytest

from outbound_peers import ALLOWED, REFUSED
from permanence import outbound

ONLY_ALLOWED = outbound.Filter.of([f"{ALLOWED}/32"])


def ipv4_mapped(address: str) -> str:
    return str(ipaddress.IPv6Address(0xFFFF << 32 | int(ipaddress.IPv4Address(address))))


def test_an_address_is_allowed_if_global_or_in_the_operators_networks():
    assert not outbound.is_allowed(REFUSED) and not outbound.is_allowed(ALLOWED)
    allow = ONLY_ALLOWED.allow
    assert outbound.is_allowed(ALLOWED, allow) and not outbound.is_allowed(REFUSED, allow)
    # an IPv4-mapped IPv6 address is judged as its IPv4 address
    assert outbound.is_allowed(ipv4_mapped(ALLOWED), allow)
    assert not outbound.is_allowed(ipv4_mapped(REFUSED), allow)
    assert outbound.networks([" 127.0.0.0/30 ", ALLOWED]) == (
        ipaddress.ip_network("127.0.0.0/30"),
        ipaddress.ip_network(f"{ALLOWED}/32"),
    )
    with pytest.raises(ValueError, match="OUTBOUND_ALLOWED_NETWORKS: 'nowhere' is not a network"):
        outbound.Filter.of(["nowhere"])
    assert outbound.Filter.of([], everything=True).url_problem(f"http://{REFUSED}/") == ""


def test_a_name_is_resolved_once_and_refused_if_any_of_its_addresses_is(fake_dns, monkeypatch):
    calls = []
    resolve = socket.getaddrinfo

    def counted(host, *args, **kwargs):
        calls.append(host)
        if host == "both.test":  # one allowed, one refused address
            return resolve(ALLOWED, *args, **kwargs) + resolve(REFUSED, *args, **kwargs)
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counted)
    fake_dns["calendar.test"] = ALLOWED
    with pytest.raises(outbound.AddressNotAllowed, match="^address not allowed: not a public address$"):
        ONLY_ALLOWED.resolve("both.test", 80)
    assert [info[4][0] for info in ONLY_ALLOWED.resolve("calendar.test", 80)] == [ALLOWED]
    assert calls == ["both.test", "calendar.test"]
    assert ONLY_ALLOWED.url_problem("http://both.test/") == outbound.NOT_PUBLIC
    assert ONLY_ALLOWED.url_problem("http://nowhere.test/") == outbound.UNKNOWN_NAME
    assert ONLY_ALLOWED.url_problem("http://calendar.test:8080/dav/") == ""


def test_urllib_connects_to_the_checked_address_and_checks_every_redirect(fake_dns, loopback_peers):
    peers = loopback_peers
    fake_dns.update({"hook.test": ALLOWED, "inside.test": REFUSED})
    opener = ONLY_ALLOWED.opener()
    base = f"http://hook.test:{peers.port}"
    with opener.open(urllib.request.Request(base + "/hook", data=b"{}"), timeout=5) as answer:
        assert answer.read() == b"ok"
    assert peers.arrived(ALLOWED) == [("POST", "/hook")]

    for location in (f"http://inside.test:{peers.port}/", f"http://{REFUSED}:{peers.port}/"):
        peers.redirects["/moved"] = location
        with pytest.raises(outbound.AddressNotAllowed):
            opener.open(base + "/moved", timeout=5)
    with pytest.raises(outbound.AddressNotAllowed):
        opener.open(f"http://inside.test:{peers.port}/", timeout=5)
    fake_dns["hook.test"] = REFUSED  # the same name, resolving elsewhere now
    with pytest.raises(outbound.AddressNotAllowed):
        opener.open(base + "/hook", timeout=5)
    with pytest.raises(urllib.error.URLError, match="unknown url type: ftp"):
        opener.open("ftp://hook.test/", timeout=5)
    assert peers.arrived(REFUSED) == []


def test_niquests_connects_to_the_checked_address_and_checks_every_redirect(fake_dns, loopback_peers):
    import niquests

    peers = loopback_peers
    fake_dns.update({"calendar.test": ALLOWED, "inside.test": REFUSED})
    session = ONLY_ALLOWED.niquests_session()
    base = f"http://calendar.test:{peers.port}"
    assert session.request("PROPFIND", base + "/dav/", timeout=5).text == "ok"
    assert peers.arrived(ALLOWED) == [("PROPFIND", "/dav/")]

    for location in (f"http://inside.test:{peers.port}/", f"http://{REFUSED}:{peers.port}/"):
        peers.redirects["/moved"] = location
        with pytest.raises(outbound.AddressNotAllowed):
            session.get(base + "/moved", timeout=5)
    peers.redirects["/moved"] = "http+unix://%2Frun%2Fsome.sock/"  # niquests mounts Unix sockets
    with pytest.raises(niquests.exceptions.InvalidSchema):
        session.get(base + "/moved", timeout=5)
    fake_dns["calendar.test"] = REFUSED
    with pytest.raises(outbound.AddressNotAllowed):  # a new connection: resolved again
        ONLY_ALLOWED.niquests_session().get(base + "/dav/", timeout=5)
    assert peers.arrived(REFUSED) == []
