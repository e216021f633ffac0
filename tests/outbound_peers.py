"""Peers for the outbound filter's tests (``permanence.outbound``). Tests send traffic to loopback only:
names under .test resolve as a test says, to 127.0.0.2 (allowed, as an operator's
OUTBOUND_ALLOWED_NETWORKS would) or 127.0.0.3 (refused, as any address that is not public)."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ALLOWED, REFUSED = "127.0.0.2", "127.0.0.3"


def resolving(names: dict[str, str], real: Callable[..., Any]) -> Callable[..., Any]:
    """``socket.getaddrinfo`` where the names under .test resolve as ``names`` says (unknown otherwise)."""

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".test"):
            if host not in names:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            host = names[host]
        return real(host, port, *args, **kwargs)

    return getaddrinfo


class LoopbackPeers:
    """Two HTTP servers on one port, on 127.0.0.2 and 127.0.0.3, recording what arrives (``seen``:
    address, method, path). A path in ``redirects`` answers 302 to its location; with ``upstream``
    (host, port) the others are passed on there (a CalDAV server), else answered 200 "ok"."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.redirects: dict[str, str] = {}
        self.upstream: tuple[str, int] | None = None
        self.port = 0

    def arrived(self, address: str) -> list[tuple[str, str]]:
        return [(method, path) for at, method, path in self.seen if at == address]


def _handler(peers: LoopbackPeers) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            peers.seen.append((self.server.server_address[0], self.command, self.path))
            status, headers, data = 200, [("Content-Type", "text/plain")], b"ok"
            if self.path in peers.redirects:
                status, headers, data = 302, [("Location", peers.redirects[self.path])], b""
            elif peers.upstream:
                upstream = http.client.HTTPConnection(*peers.upstream, timeout=10)
                passed = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request(self.command, self.path, body, passed)
                answer = upstream.getresponse()
                status, data = answer.status, answer.read()
                headers = [
                    (k, v)
                    for k, v in answer.getheaders()
                    if k.lower() not in ("connection", "content-length", "transfer-encoding")
                ]
                upstream.close()
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = handle_one  # noqa: N815 - http.server API
        do_PROPFIND = do_REPORT = do_OPTIONS = handle_one  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serving() -> Iterator[LoopbackPeers]:
    peers = LoopbackPeers()
    handler = _handler(peers)
    servers: list[ThreadingHTTPServer] = []
    while len(servers) < 2:  # the same free port on both addresses
        for server in servers:
            server.server_close()
        servers = [ThreadingHTTPServer((ALLOWED, 0), handler)]
        try:
            servers.append(ThreadingHTTPServer((REFUSED, servers[0].server_address[1]), handler))
        except OSError:
            continue
    peers.port = servers[0].server_address[1]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield peers
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
