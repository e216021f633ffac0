"""Media through rtpengine: one anchor per leg, and legs joined by pointing anchors at each other.

Each leg of a call (the caller, the secretary's phone, a collaborator reached by a transfer) gets its
own rtpengine session, its *anchor*: one side faces the leg's endpoint and never changes for the
leg's life (so an endpoint is never asked to renegotiate, which a browser's ICE and DTLS would not
survive), the other side is the anchor's *peer port*, where another anchor's media arrives. Joining
two legs is pointing one anchor at the other's peer port: rtpengine learns the source of what it
receives ("media-handover"), so the other anchor answers to it at once. Music, prompts and hold are
played into, or blocked at, one anchor without touching the others. Everything inside Permanence
travels as PCMU (rtpengine transcodes a caller's other codecs; WebRTC is bridged to plain RTP).

Blocking: each method makes rtpengine round trips (a few milliseconds); the call control runs them
in a thread. No Django import.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from permanence.telephony.ng import Client, NgError

AUDIO = Path(__file__).resolve().parent / "audio"
ENDPOINT, PEER = "e", "p"  # the tags of an anchor's two sides
_PORT = re.compile(r"^m=audio (\d+) ", re.MULTILINE)
_COMMON = {"replace": ["origin", "session-connection"]}
_PLAIN = {**_COMMON, "transport-protocol": "RTP/AVP", "ICE": "remove", "flags": ["media-handover"]}
# Toward a browser: ICE, DTLS-SRTP, rtcp-mux; its answer back to plain RTP (the research's recipe: no
# DTLS flag on the answer, no BUNDLE group in rtpengine 10.5's offers)
_TO_BROWSER = {
    **_COMMON, "ICE": "force", "DTLS": "passive", "SDES": ["off"], "rtcp-mux": ["offer"],
    "transport-protocol": "UDP/TLS/RTP/SAVPF", "flags": ["generate-mid", "media-handover"],
}  # fmt: skip
_FROM_BROWSER = {**_COMMON, "ICE": "remove", "transport-protocol": "RTP/AVP", "rtcp-mux": ["demux"],
                 "flags": ["media-handover"]}  # fmt: skip


class MediaError(Exception):
    """rtpengine refused or did not answer: the leg cannot have media."""


def peer_sdp(host: str, port: int, version: int = 1) -> str:
    """The SDP of an anchor's peer side: PCMU and DTMF events at ``host:port``."""
    return (
        f"v=0\r\no=permanence 1 {version} IN IP4 {host}\r\ns=permanence\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
    )


def port_of(sdp: str) -> int:
    match = _PORT.search(sdp.replace("\r\n", "\n"))
    if not match:
        raise MediaError("rtpengine's SDP has no audio line")
    return int(match.group(1))


@dataclass
class Anchor:
    call_id: str  # rtpengine's session id for this leg
    peer_port: int = 0  # where another anchor sends this leg's counterpart's media
    endpoint_sdp: str = ""  # rtpengine's SDP for the leg's endpoint


class Media:
    def __init__(self, client: Client, address: str) -> None:
        self.ng, self.address = client, address

    def _do(self, method: str, *args: object, **kwargs: object) -> Any:
        try:
            return getattr(self.ng, method)(*args, **kwargs)
        except NgError as exc:
            raise MediaError(str(exc)) from None

    def answer_incoming(self, call_id: str, sdp: str) -> Anchor:
        """An endpoint's offer (a trunk's INVITE): its anchor, parked (its peer points nowhere yet);
        ``endpoint_sdp`` is the answer to send back."""
        offered = self._do("offer", sdp, call_id, ENDPOINT, codec={"transcode": ["PCMU"]}, **_PLAIN)
        answer = self._do("answer", peer_sdp(self.address, 9), call_id, ENDPOINT, PEER, **_PLAIN)
        return Anchor(call_id, port_of(offered), answer)

    def offer_outgoing(self, call_id: str, toward: Anchor, *, browser: bool) -> Anchor:
        """An anchor for a leg we call, already joined to ``toward``; ``endpoint_sdp`` is the offer to
        send in the INVITE (WebRTC for a browser's softphone)."""
        flags = _TO_BROWSER if browser else _PLAIN
        offer = self._do("offer", peer_sdp(self.address, toward.peer_port), call_id, PEER, **flags)
        return Anchor(call_id, 0, offer)

    def outgoing_answered(self, anchor: Anchor, sdp: str, *, browser: bool) -> None:
        flags = _FROM_BROWSER if browser else _PLAIN
        anchor.peer_port = port_of(self._do("answer", sdp, anchor.call_id, PEER, ENDPOINT, **flags))

    def point(
        self, anchor: Anchor, toward: Anchor | tuple[str, int], endpoint_sdp: str, version: int
    ) -> None:
        """Send ``anchor``'s leg's media to ``toward``: another anchor, or a host and port (the call
        control's recorder). A re-offer from the endpoint's side: only for plain-RTP endpoints;
        ``endpoint_sdp`` is the one they sent us."""
        host, port = (self.address, toward.peer_port) if isinstance(toward, Anchor) else toward
        self._do("offer", endpoint_sdp, anchor.call_id, ENDPOINT, to_tag=PEER, **_PLAIN)
        self._do("answer", peer_sdp(host, port, version), anchor.call_id, ENDPOINT, PEER, **_PLAIN)

    def play(self, anchor: Anchor, sound: str | Path, *, repeat: int | None = None) -> float:
        """Play a WAV file (8 kHz mono 16-bit) to the leg's endpoint; its duration in seconds."""
        path = sound if isinstance(sound, Path) else AUDIO / f"{sound}.wav"
        return int(self._do("play_media", anchor.call_id, ENDPOINT, str(path), repeat=repeat)) / 1000

    def tap(self, anchor: Anchor, host: str, port: int) -> str:
        """A copy of what the leg's endpoint says, sent to ``host:port`` (a recorder, a listener):
        rtpengine's subscription; its tag, to end it with ``untap``."""
        fields = {"call-id": anchor.call_id, "from-tags": [ENDPOINT], "transport-protocol": "RTP/AVP"}
        request = self._do("request", "subscribe request", **fields)
        tag = str(request["to-tag"])
        listener = peer_sdp(host, port).replace("a=sendrecv", "a=recvonly")
        self._do("request", "subscribe answer", **{"call-id": anchor.call_id, "to-tag": tag, "sdp": listener})
        return tag

    def untap(self, anchor: Anchor, tag: str) -> None:
        with contextlib.suppress(NgError):  # already gone (the call deleted, or rtpengine restarted)
            self.ng.request("unsubscribe", **{"call-id": anchor.call_id, "to-tag": tag})

    def stop(self, anchor: Anchor) -> None:
        with contextlib.suppress(NgError):  # nothing was playing
            self.ng.stop_media(anchor.call_id, ENDPOINT)

    def mute(self, anchor: Anchor, muted: bool) -> None:
        """Stop (or resume) relaying what the leg's endpoint says."""
        self._do("block_media" if muted else "unblock_media", anchor.call_id, ENDPOINT)

    def exists(self, anchor: Anchor) -> bool:
        """Whether rtpengine still has the anchor (False after its restart: its calls are gone)."""
        try:
            self.ng.query(anchor.call_id)
        except NgError as exc:
            if "unknown call" in str(exc).lower():
                return False
            raise MediaError(str(exc)) from None
        return True

    def last_heard(self, anchor: Anchor) -> int:
        """rtpengine's time of the last packet from the leg's endpoint (it moves while the endpoint
        sends media: a browser or a phone sends RTP even in silence)."""
        reply = self._do("query", anchor.call_id)
        tag = reply.get("tags", {}).get(ENDPOINT, {})
        times = [int(stream.get("last packet", 0)) for media in tag.get("medias", [])
                 for stream in media.get("streams", [])[:1]]  # fmt: skip
        return max(times, default=0)

    def release(self, anchor: Anchor) -> None:
        with contextlib.suppress(NgError):  # already gone (rtpengine restarted, or its timeout)
            self.ng.delete(anchor.call_id)
