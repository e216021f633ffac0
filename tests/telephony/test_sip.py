"""The call control's SIP user agent: messages, and two agents calling each other over real UDP
sockets on 127.0.0.1 (each the other's proxy), with a lossy link for the retransmissions. SIPp, the
independent peer, is in test_sipp_agent.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import fresh_loop
from permanence.telephony import sip

INVITE = (
    "INVITE sip:+33123456789@127.0.0.1:5070 SIP/2.0\r\n"
    "v: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc;rport\r\n"
    "Record-Route: <sip:127.0.0.1:5060;lr>, <sip:127.0.0.1:8088;transport=ws;lr>\r\n"
    'f: "Anne" <sip:+33612345678@carrier>;tag=111\r\n'
    "t: <sip:+33123456789@permanence>\r\n"
    "i: call-1@carrier\r\n"
    "CSeq: 1 INVITE\r\n"
    "m: <sip:anne@127.0.0.2:5080>\r\n"
    "Subject: a folded\r\n  header\r\n"
    "c: application/sdp\r\n"
    "l: 4\r\n\r\n"
    "v=0\r\nthe rest is beyond Content-Length"
)


def test_parse_reads_compact_names_folded_lines_and_the_body_length() -> None:
    message = sip.parse(INVITE.encode())
    assert isinstance(message, sip.Request)
    assert (message.method, message.call_id, message.cseq) == ("INVITE", "call-1@carrier", (1, "INVITE"))
    assert message.branch == "z9hG4bKabc"
    assert message.get("subject") == "a folded header"
    assert message.body == "v=0\r"
    assert message.all("record-route") == ["<sip:127.0.0.1:5060;lr>", "<sip:127.0.0.1:8088;transport=ws;lr>"]
    assert sip.param(message.get("from"), "tag") == "111"
    assert sip.user_of(sip.uri_of(message.get("from"))) == "+33612345678"


def test_reply_copies_the_dialog_headers_tags_the_to_and_keeps_the_record_route() -> None:
    request = sip.parse(INVITE.encode())
    assert isinstance(request, sip.Request)
    response = sip.parse(sip.reply(request, 180, "Ringing", to_tag="xyz").encode())
    assert isinstance(response, sip.Response)
    assert response.status == 180 and sip.param(response.get("to"), "tag") == "xyz"
    assert response.get("via") == request.get("via") and response.cseq == (1, "INVITE")
    assert len(response.all("record-route")) == 2
    trying = sip.reply(request, 100, "Trying", to_tag="xyz")
    assert "tag=" not in trying.get("to")  # a 100 never carries a To tag


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", b"SIP/2.0 abc OK\r\n\r\n", b"INVITE sip:x SIP/2.0\r\nCall-ID: 1\r\n\r\n"],
)
def test_unreadable_messages_are_refused_in_words(data: bytes) -> None:
    with pytest.raises(sip.SipError):
        sip.parse(data)


class Lossy(sip.Agent):
    """Drops the first datagram of each kind listed: the peer must repeat it."""

    def __init__(self, *args: Any, drop: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drop = set(drop)
        self.seen: list[str] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        first = data.split(b"\r\n", 1)[0].decode()
        self.seen.append(first)
        kind = first.split(" ")[0] if not first.startswith("SIP/2.0") else first.split(" ")[1]
        if kind in self.drop:
            self.drop.discard(kind)
            return
        super().datagram_received(data, addr)


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(scenario: Callable[[Lossy, Lossy, list[sip.ServerLeg]], Awaitable[None]], *,
        drop_a: tuple[str, ...] = (), drop_b: tuple[str, ...] = ()) -> None:  # fmt: skip
    async def main() -> None:
        a_port, b_port = free_port(), free_port()
        incoming: list[sip.ServerLeg] = []
        a = Lossy(("127.0.0.1", a_port), ("127.0.0.1", b_port), lambda leg: None, drop=drop_a)
        b = Lossy(("127.0.0.1", b_port), ("127.0.0.1", a_port), incoming.append, drop=drop_b)
        await a.start()
        await b.start()
        try:
            await asyncio.wait_for(scenario(a, b, incoming), 20)
        finally:
            a.close()
            b.close()

    fresh_loop.run(main())


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def test_a_call_answered_then_hung_up_by_the_caller_with_lost_datagrams_repeated() -> None:
    async def scenario(a: Lossy, b: Lossy, incoming: list[sip.ServerLeg]) -> None:
        leg = sip.ClientLeg(a, "sip:desk-1@permanence", "v=0 offer", "sip:+33611@permanence",
                            headers=[("x-permanence-call", "7")]).start()  # fmt: skip
        await until(lambda: bool(incoming))
        server = incoming[0]
        assert server.invite.get("x-permanence-call") == "7" and server.remote_sdp == "v=0 offer"
        assert server.called == "desk-1" and server.caller == "+33611"
        server.ringing()
        answered = asyncio.ensure_future(server.answer("v=0 answer"))
        response = await leg.answered
        assert response.status == 200 and leg.remote_sdp == "v=0 answer" and leg.established
        assert await answered  # the ACK came, though the first 200 OK was lost and repeated
        await leg.hang_up()
        assert await server.ended == "bye" and await leg.ended == "hung up"

    run(scenario, drop_a=("200",), drop_b=("BYE",))  # a loses the first 200 OK, b the first BYE


def test_the_callee_hangs_up_and_a_refusal_is_acknowledged() -> None:
    async def scenario(a: Lossy, b: Lossy, incoming: list[sip.ServerLeg]) -> None:
        leg = sip.ClientLeg(a, "sip:desk-1@permanence", "v=0", "sip:anonymous@permanence").start()
        await until(lambda: bool(incoming))
        assert await incoming[0].answer("v=0")
        await incoming[0].hang_up()
        assert await leg.ended == "bye"
        refused = sip.ClientLeg(a, "sip:desk-2@permanence", "v=0", "sip:anonymous@permanence").start()
        await until(lambda: len(incoming) == 2)
        incoming[1].reject(486, "Busy Here")
        assert (await refused.answered).status == 486
        assert await refused.ended == "refused 486"
        await until(lambda: any(line.startswith("ACK") for line in b.seen))

    run(scenario)


def test_a_ringing_call_cancelled_by_the_caller() -> None:
    async def scenario(a: Lossy, b: Lossy, incoming: list[sip.ServerLeg]) -> None:
        leg = sip.ClientLeg(a, "sip:desk-1@permanence", "v=0", "sip:anonymous@permanence").start()
        await until(lambda: bool(incoming))
        incoming[0].ringing()
        await until(lambda: leg.status == 180)
        await leg.hang_up()  # not answered yet: a CANCEL
        assert await incoming[0].ended == "cancelled"
        assert (await leg.answered).status == 487
        assert not await incoming[0].answer("v=0")  # too late to answer

    run(scenario)


def test_an_in_dialog_request_for_an_unknown_call_gets_481() -> None:
    async def scenario(a: Lossy, b: Lossy, incoming: list[sip.ServerLeg]) -> None:
        bye = sip.Request(
            [("via", a.via("x1")), ("from", "<sip:a@x>;tag=1"), ("to", "<sip:b@x>;tag=2"),
             ("call-id", "nobody"), ("cseq", "2 BYE")], "", "BYE", "sip:b@x",
        )  # fmt: skip
        assert (await a.request(bye)).status == 481

    run(scenario)
