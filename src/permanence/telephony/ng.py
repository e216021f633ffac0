"""A client of rtpengine's "ng" control protocol: bencoded dictionaries over UDP, each request
prefixed with a cookie that its reply repeats.

One method per command the call control uses so far (offer, answer, delete, query, play and stop
media, block and unblock media, ping); ``request`` sends any other (play DTMF, recording...).
Every call has a timeout and a bounded number of retransmissions; an error reply, a timeout or an
unreadable reply raises ``NgError`` with rtpengine's reason. No Django import: the call control wraps it.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import bencodepy

MAX_DATAGRAM = 65535
# rtpengine does not sort a dictionary's keys as bencode says: a lenient codec, texts as UTF-8
_CODEC = bencodepy.Bencode(encoding="utf-8", encoding_fallback="value")


class NgError(Exception):
    """rtpengine refused the command, did not answer, or answered something unreadable."""


def _clean(value: Any) -> Any:
    """Leave out None; booleans as rtpengine spells them."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Address:
        """``udp:127.0.0.1:22222`` or ``127.0.0.1:22222``."""
        value = text.removeprefix("udp:")
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"not an rtpengine address: {text!r} (write host:port)")
        return cls(host.strip("[]"), int(port))


class Client:
    """Thread-safe: each request has its own cookie and socket."""

    def __init__(self, address: Address | str, timeout: float = 1.0, attempts: int = 3) -> None:
        self.address = Address.parse(address) if isinstance(address, str) else address
        self.timeout, self.attempts = timeout, attempts
        self._counter = 0
        self._lock = threading.Lock()

    def _cookie(self) -> bytes:
        with self._lock:
            self._counter += 1
            counter = self._counter
        return f"{os.getpid()}_{counter}_{os.urandom(3).hex()}".encode()

    def request(self, command: str, **fields: Any) -> dict[str, Any]:
        """Send one command; the decoded reply (``result`` is "ok", or "error" which raises)."""
        cookie = self._cookie()
        payload = cookie + b" " + _CODEC.encode(_clean({"command": command, **fields}))
        family = socket.AF_INET6 if ":" in self.address.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(self.timeout)
            for _attempt in range(self.attempts):  # UDP: the same cookie again, rtpengine dedups it
                sock.sendto(payload, (self.address.host, self.address.port))
                try:
                    while True:
                        data, _peer = sock.recvfrom(MAX_DATAGRAM)
                        head, _, body = data.partition(b" ")
                        if head == cookie:
                            break
                except TimeoutError:
                    continue
                except OSError as exc:  # e.g. ICMP port unreachable: nobody listens there
                    raise NgError(f"rtpengine at {self.address.host}:{self.address.port}: {exc}") from None
                try:
                    reply = _CODEC.decode(body)
                except (bencodepy.BencodeDecodeError, ValueError, RecursionError):
                    raise NgError(f"{command}: unreadable reply {body[:80]!r}") from None
                if not isinstance(reply, dict):
                    raise NgError(f"{command}: unexpected reply {reply!r}")
                if reply.get("result") == "error":
                    raise NgError(f"{command}: {reply.get('error-reason', 'refused')}")
                return reply
        raise NgError(
            f"{command}: no answer from rtpengine at {self.address.host}:{self.address.port}"
            f" after {self.attempts} tries"
        )

    # -- the commands ---------------------------------------------------------------------------
    def ping(self) -> bool:
        return self.request("ping").get("result") == "pong"

    def offer(self, sdp: str, call_id: str, from_tag: str, *, flags: Sequence[str] = (),
              **options: Any) -> str:  # fmt: skip
        """The SDP to send on to the other side, with rtpengine's addresses in it."""
        reply = self.request("offer", sdp=sdp, **{"call-id": call_id, "from-tag": from_tag},
                             flags=list(flags) or None, **_dashes(options))  # fmt: skip
        return str(reply["sdp"])

    def answer(self, sdp: str, call_id: str, from_tag: str, to_tag: str, *, flags: Sequence[str] = (),
               **options: Any) -> str:  # fmt: skip
        reply = self.request(
            "answer", sdp=sdp, **{"call-id": call_id, "from-tag": from_tag, "to-tag": to_tag},
            flags=list(flags) or None, **_dashes(options),
        )  # fmt: skip
        return str(reply["sdp"])

    def delete(self, call_id: str, from_tag: str | None = None, *, delay: int | None = 0) -> dict[str, Any]:
        return self.request("delete", **{"call-id": call_id, "from-tag": from_tag, "delete-delay": delay})

    def query(self, call_id: str) -> dict[str, Any]:
        return self.request("query", **{"call-id": call_id})

    def play_media(self, call_id: str, from_tag: str, file: str, *, repeat: int | None = None) -> int:
        """Play a WAV file to the leg of ``from_tag``; returns its duration in milliseconds."""
        reply = self.request(
            "play media", file=file, **{"call-id": call_id, "from-tag": from_tag, "repeat-times": repeat}
        )
        return int(reply.get("duration", 0))

    def stop_media(self, call_id: str, from_tag: str) -> None:
        self.request("stop media", **{"call-id": call_id, "from-tag": from_tag})

    def block_media(self, call_id: str, from_tag: str | None = None) -> None:
        """Stop relaying what ``from_tag`` sends (every leg when None)."""
        self.request("block media", **{"call-id": call_id, "from-tag": from_tag})

    def unblock_media(self, call_id: str, from_tag: str | None = None) -> None:
        self.request("unblock media", **{"call-id": call_id, "from-tag": from_tag})



def _dashes(options: Mapping[str, Any]) -> dict[str, Any]:
    """Python keyword arguments to rtpengine's keys: ``transport_protocol`` -> ``transport-protocol``."""
    return {k.replace("_", "-"): v for k, v in options.items()}
