"""The call control's SIP user agent: just what a back-to-back user agent behind Kamailio needs.

Permanence's call control speaks SIP over UDP to one peer only, its own Kamailio (the edge that
faces carriers, phones and browsers, and that retransmits statefully toward them). So this module
holds the part of RFC 3261 that such a user agent uses, over asyncio, with no Django import:

- messages: parsing (compact header names, folded lines, bodies) and building;
- transactions: INVITE and non-INVITE, client and server, with the T1/T2 retransmissions of UDP;
- dialogs (``Leg``): an incoming call (``ServerLeg``: ring, answer and wait for the ACK, reject,
  cancelled by the caller) or an outgoing one (``ClientLeg``: progress, answer, refusal, CANCEL),
  both ended by a BYE from either side; re-INVITEs are answered with the leg's current SDP.

Every leg has ``ended``, a future that holds why it ended ("bye", "cancelled", "rejected 486",
"timeout"...), so that the call control awaits what happens on the wire instead of polling.
(sippy, the one maintained Python SIP stack, was weighed: its reactor is a process singleton that
installs signal handlers, and it brings a web framework and C extensions we would not use.)
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

T1, T2, TIMEOUT = 0.5, 4.0, 32.0  # RFC 3261's timers, in seconds (Timer B/F/H = 64 * T1)
COMPACT = {"i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding"}  # fmt: skip


class SipError(Exception):
    """A message that cannot be read, or a request that cannot be made."""


def token(size: int = 10) -> str:
    return secrets.token_hex(size)


def _title(name: str) -> str:
    return {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate"}.get(
        name, "-".join(part.capitalize() for part in name.split("-"))
    )


@dataclass
class Message:
    headers: list[tuple[str, str]] = field(default_factory=list)  # (lower-case name, value), in order
    body: str = ""

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def all(self, name: str) -> list[str]:
        """Every value of a header, comma-separated values split (Via, Record-Route...)."""
        values: list[str] = []
        for key, value in self.headers:
            if key == name:
                values.extend(_split_commas(value))
        return values

    def set(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k != name] + [(name, value)]

    @property
    def call_id(self) -> str:
        return self.get("call-id")

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = self.get("cseq").partition(" ")
        try:
            return int(number), method.strip().upper()
        except ValueError:
            raise SipError(f"bad CSeq {self.get('cseq')!r}") from None

    @property
    def branch(self) -> str:
        return param(self.get("via"), "branch")

    def _encode(self, first: str) -> bytes:
        headers = [(k, v) for k, v in self.headers if k != "content-length"]
        body = self.body.encode()
        lines = [first, *(f"{_title(k)}: {v}" for k, v in headers), f"Content-Length: {len(body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Request(Message):
    method: str = ""
    uri: str = ""

    def encode(self) -> bytes:
        return self._encode(f"{self.method} {self.uri} SIP/2.0")


@dataclass
class Response(Message):
    status: int = 0
    reason: str = ""

    def encode(self) -> bytes:
        return self._encode(f"SIP/2.0 {self.status} {self.reason}")


def _split_commas(value: str) -> list[str]:
    """Split a header value on the commas outside quotes and angle brackets."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(value):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "<":
            depth += 1
        elif not quoted and char == ">":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def param(value: str, name: str) -> str:
    """A header parameter (``tag``, ``branch``...) outside the angle brackets of its address."""
    outside = value.rsplit(">", 1)[-1] if ">" in value else value
    for part in outside.split(";")[1:]:
        key, _, val = part.strip().partition("=")
        if key.lower() == name:
            return val.strip()
    return ""


def uri_of(value: str) -> str:
    """The URI of a name-addr (``"Anne" <sip:a@b>;tag=1``) or of a bare addr-spec."""
    if "<" in value:
        inside = value.split("<", 1)[1].split(">", 1)[0].strip()
        if inside:
            return inside
    bare = value.split(";", 1)[0].strip()
    if not bare or " " in bare:
        raise SipError(f"no URI in {value!r}")
    return bare


def user_of(uri: str) -> str:
    """The user part of a SIP URI (``sip:+33123@host;user=phone`` -> ``+33123``)."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    return rest.split("@", 1)[0].split(";", 1)[0] if "@" in rest else ""


def parse(data: bytes) -> Request | Response:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    head, _, body = text.partition("\r\n\r\n")
    if not _:
        head, _, body = text.partition("\n\n")
    lines = head.replace("\r\n", "\n").split("\n")
    first, headers = lines[0].strip(), list[tuple[str, str]]()
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # a folded line continues the previous header
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        if not colon:
            continue
        key = name.strip().lower()
        headers.append((COMPACT.get(key, key), value.strip()))
    length = next((v for k, v in headers if k == "content-length"), "")
    if length.isdigit():
        body = body.encode()[: int(length)].decode(errors="replace")
    parts = first.split(" ", 2)
    if len(parts) < 3:
        raise SipError(f"not a SIP message: {first[:60]!r}")
    if parts[0] == "SIP/2.0":
        if not parts[1].isdigit():
            raise SipError(f"bad status line {first[:60]!r}")
        message: Request | Response = Response(headers, body, int(parts[1]), parts[2])
    elif parts[2] == "SIP/2.0":
        message = Request(headers, body, parts[0].upper(), parts[1])
    else:
        raise SipError(f"not a SIP message: {first[:60]!r}")
    for needed in ("via", "call-id", "cseq", "from", "to"):
        if not message.get(needed):
            raise SipError(f"no {needed} header")
    return message


def reply(request: Request, status: int, reason: str, *, to_tag: str = "", body: str = "",
          headers: list[tuple[str, str]] | None = None) -> Response:  # fmt: skip
    """A response to ``request``, with its Via, From, To (tagged), Call-ID, CSeq and Record-Route."""
    copied = [(k, v) for k, v in request.headers if k in ("via", "from", "call-id", "cseq")]
    to = request.get("to")
    if to_tag and not param(to, "tag") and status > 100:
        to += f";tag={to_tag}"
    copied.insert(2, ("to", to))
    if request.method == "INVITE" and 100 < status < 300:
        copied += [("record-route", v) for v in request.all("record-route")]
    response = Response(copied + list(headers or []), body, status, reason)
    if body:
        response.set("content-type", "application/sdp")
    return response


# -- transport and transactions --------------------------------------------------------------------


class Agent(asyncio.DatagramProtocol):
    """The user agent on its UDP socket; ``on_invite`` gets each new incoming call."""

    def __init__(self, local: tuple[str, int], proxy: tuple[str, int],
                 on_invite: Callable[[ServerLeg], None], user_agent: str = "Permanence") -> None:  # fmt: skip
        self.local, self.proxy, self.on_invite, self.user_agent = local, proxy, on_invite, user_agent
        self.transport: asyncio.DatagramTransport | None = None
        self.legs: dict[tuple[str, str], Leg] = {}  # (Call-ID, our tag)
        self._server: dict[tuple[str, str], ServerLeg] = {}  # (branch, Call-ID) of INVITEs received
        self._replies: dict[tuple[str, str], bytes] = {}  # (branch, method): the last reply sent
        self._client: dict[tuple[str, str], ClientTransaction] = {}  # (branch, method): a CANCEL shares
        # its INVITE's branch

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=self.local)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def send(self, message: Request | Response) -> None:
        if self.transport is None:
            raise SipError("the SIP socket is closed")
        self.transport.sendto(message.encode(), self.proxy)

    def via(self, branch: str) -> str:
        return f"SIP/2.0/UDP {self.local[0]}:{self.local[1]};branch=z9hG4bK{branch};rport"

    @property
    def contact(self) -> str:
        return f"<sip:control@{self.local[0]}:{self.local[1]}>"

    # -- receiving -------------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.strip():
            return  # keep-alive
        try:
            message = parse(data)
            if isinstance(message, Response):
                self._response(message)
            else:
                self._request(message)
        except SipError as exc:
            log.warning("SIP message from %s:%s dropped: %s", addr[0], addr[1], exc)
        except Exception:  # one bad message must never stop the call control
            log.exception("SIP message from %s:%s failed", addr[0], addr[1])

    def _request(self, request: Request) -> None:
        key = (request.branch, request.method)
        if request.method != "ACK" and key in self._replies:  # a retransmission: the same answer
            if self.transport is not None:
                self.transport.sendto(self._replies[key], self.proxy)
            return
        to_tag = param(request.get("to"), "tag")
        leg = self.legs.get((request.call_id, to_tag)) if to_tag else None
        if request.method == "INVITE" and not to_tag:
            self._new_call(request)
        elif request.method == "ACK":
            if leg is not None:
                leg.acked(request)
            else:
                server = self._server.get((request.branch, request.call_id))
                if server is not None:  # the ACK of a refusal: stop repeating it
                    server.acked(request)
        elif request.method == "CANCEL":
            server = self._server.get((request.branch, request.call_id))
            self.answer(request, 200 if server else 481, "OK" if server else "Call Does Not Exist")
            if server is not None:
                server.cancelled()
        elif leg is None:
            if request.method != "ACK":
                self.answer(request, 481, "Call/Transaction Does Not Exist")
        elif request.method == "BYE":
            self.answer(request, 200, "OK", to_tag=to_tag)
            leg.bye = request
            leg.finish("bye")
        elif request.method == "INVITE":  # a re-INVITE (new media, hold, session refresh)
            if request.body and leg.on_offer is not None:
                leg.remote_sdp = request.body
                leg.local_sdp = leg.on_offer(request.body) or leg.local_sdp
            self.answer(request, 200, "OK", to_tag=to_tag, body=leg.local_sdp,
                        headers=[("contact", self.contact)])  # fmt: skip
        elif request.method in ("INFO", "OPTIONS", "UPDATE", "NOTIFY"):
            self.answer(request, 200, "OK", to_tag=to_tag)
        else:
            self.answer(request, 501, "Not Implemented", to_tag=to_tag)

    def answer(self, request: Request, status: int, reason: str, **options: object) -> Response:
        response = reply(request, status, reason, **options)  # type: ignore[arg-type]
        data = response.encode()
        if status >= 200:
            self._replies[(request.branch, request.method)] = data
            key = (request.branch, request.method)
            asyncio.get_running_loop().call_later(TIMEOUT, self._replies.pop, key, None)
        if self.transport is not None:
            self.transport.sendto(data, self.proxy)
        return response

    def _new_call(self, request: Request) -> None:
        if request.get("require"):
            self.answer(request, 420, "Bad Extension", headers=[("unsupported", request.get("require"))])
            return
        leg = ServerLeg(self, request)
        self._server[(request.branch, request.call_id)] = leg
        self.legs[(request.call_id, leg.local_tag)] = leg
        self.answer(request, 100, "Trying")
        try:
            self.on_invite(leg)
        except Exception:
            log.exception("incoming call %s: the call control failed", request.call_id)
            leg.reject(500, "Server Internal Error")

    def _response(self, response: Response) -> None:
        transaction = self._client.get((response.branch, response.cseq[1]))
        if transaction is None:
            leg = self.legs.get((response.call_id, param(response.get("from"), "tag")))
            if isinstance(leg, ClientLeg) and 200 <= response.status < 300:
                leg.send_ack()  # a 2xx repeated because our ACK was lost
            return
        transaction.received(response)

    # -- sending ---------------------------------------------------------------------------------
    def request(self, request: Request, on_response: Callable[[Response], None] | None = None
                ) -> asyncio.Future[Response]:  # fmt: skip
        transaction = ClientTransaction(self, request, on_response)
        self._client[(request.branch, request.method)] = transaction
        transaction.start()
        return transaction.final

    def forget(self, transaction: ClientTransaction) -> None:
        self._client.pop((transaction.request.branch, transaction.request.method), None)


class ClientTransaction:
    """A request we sent: repeated on UDP until answered (INVITE: until any response)."""

    def __init__(self, agent: Agent, request: Request,
                 on_response: Callable[[Response], None] | None) -> None:  # fmt: skip
        self.agent, self.request, self.on_response = agent, request, on_response
        self.final: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.provisional = False
        self._timer: asyncio.TimerHandle | None = None
        self._started = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._started = loop.time()
        self.agent.send(self.request)
        self._arm(T1)

    def _arm(self, interval: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(interval, self._fire, interval)

    def _fire(self, interval: float) -> None:
        if self.final.done():
            return
        if asyncio.get_running_loop().time() - self._started >= TIMEOUT:
            timeout = Response([], "", 408, "Request Timeout")
            self._done(timeout)
            return
        if not (self.request.method == "INVITE" and self.provisional):
            self.agent.send(self.request)
            self._arm(min(interval * 2, T2) if self.request.method != "INVITE" else interval * 2)
        else:
            self._arm(TIMEOUT)  # an answered INVITE waits for its final response (Kamailio's timer)

    def received(self, response: Response) -> None:
        if response.status < 200:
            self.provisional = True
        if self.on_response is not None:
            self.on_response(response)
        if response.status >= 200 and not self.final.done():
            self._done(response)

    def _done(self, response: Response) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.final.set_result(response)
        # keep the transaction a while: a repeated final response must still find it
        asyncio.get_running_loop().call_later(TIMEOUT, self.agent.forget, self)


# -- dialogs ---------------------------------------------------------------------------------------


class Leg:
    """One side of a call: a SIP dialog with its SDP, ended by a BYE from either side."""

    def __init__(self, agent: Agent, call_id: str, local_tag: str) -> None:
        self.agent, self.call_id, self.local_tag = agent, call_id, local_tag
        self.remote_tag = ""
        self.local_uri = self.remote_uri = self.target = ""  # name-addrs, and the remote Contact URI
        self.route: list[str] = []
        self.local_seq = 1
        self.local_sdp = ""
        self.remote_sdp = ""
        self.established = False
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.bye: Request | None = None  # the BYE that ended it, when the other side hung up
        # a re-INVITE's offer -> our answer (None: answer with our SDP unchanged)
        self.on_offer: Callable[[str], str | None] | None = None

    @property
    def is_over(self) -> bool:
        return self.ended.done()

    def finish(self, reason: str) -> None:
        if not self.ended.done():
            self.ended.set_result(reason)
        self.agent.legs.pop((self.call_id, self.local_tag), None)

    def acked(self, request: Request) -> None:
        """An ACK in this dialog (only a server leg waits for one)."""

    def in_dialog(self, method: str, body: str = "", headers: list[tuple[str, str]] | None = None) -> Request:
        self.local_seq += 1
        request = Request(
            [("via", self.agent.via(token(8))), ("max-forwards", "70"),
             *(("route", r) for r in self.route), ("from", f"{self.local_uri};tag={self.local_tag}"),
             ("to", f"{self.remote_uri};tag={self.remote_tag}"), ("call-id", self.call_id),
             ("cseq", f"{self.local_seq} {method}"), ("contact", self.agent.contact),
             ("user-agent", self.agent.user_agent), *(headers or [])],
            body, method, self.target,
        )  # fmt: skip
        if body:
            request.set("content-type", "application/sdp")
        return request

    async def hang_up(self) -> None:
        """Send a BYE (a leg not answered yet is cancelled or refused instead); idempotent."""
        if self.is_over:
            return
        if not self.established:
            self._stop_unanswered()
            return
        self.finish("hung up")
        await self.agent.request(self.in_dialog("BYE"))

    async def reinvite(self, sdp: str) -> bool:
        """Offer new media in the dialog (a re-INVITE): True when the other side accepted it (its
        answer is then ``remote_sdp``)."""
        if self.is_over or not self.established:
            return False
        request = self.in_dialog("INVITE", body=sdp)
        number = self.local_seq

        def acknowledge(response: Response) -> None:
            if 200 <= response.status < 300 and not self.is_over:
                ack = self.in_dialog("ACK")
                ack.set("cseq", f"{number} ACK")
                self.local_seq -= 1  # the ACK takes the re-INVITE's number
                self.agent.send(ack)

        response = await self.agent.request(request, acknowledge)
        if not 200 <= response.status < 300:
            return False
        self.local_sdp, self.remote_sdp = sdp, response.body or self.remote_sdp
        return True

    def _stop_unanswered(self) -> None:
        self.finish("hung up")


class ServerLeg(Leg):
    """An incoming call (a trunk's INVITE relayed by Kamailio)."""

    def __init__(self, agent: Agent, invite: Request) -> None:
        super().__init__(agent, invite.call_id, token(6))
        self.invite = invite
        self.remote_sdp = invite.body
        self.remote_uri = invite.get("from").split(";tag=")[0]
        self.remote_tag = param(invite.get("from"), "tag")
        self.local_uri = invite.get("to")
        self.target = uri_of(invite.get("contact") or invite.get("from"))
        self.route = invite.all("record-route")
        self.local_seq = 1000
        self._ack: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._final_sent = False

    @property
    def called(self) -> str:
        return user_of(self.invite.uri) or user_of(uri_of(self.invite.get("to")))

    @property
    def caller(self) -> str:
        identity = self.invite.get("p-asserted-identity")
        return user_of(uri_of(identity or self.invite.get("from")))

    def ringing(self) -> None:
        if not self._final_sent and not self.is_over:
            self.agent.answer(self.invite, 180, "Ringing", to_tag=self.local_tag)

    async def answer(self, sdp: str) -> bool:
        """200 OK with ``sdp``, repeated until the ACK comes; False if it never came (leg ended)."""
        if self._final_sent or self.is_over:
            return False
        self._final_sent, self.local_sdp = True, sdp
        response = self.agent.answer(self.invite, 200, "OK", to_tag=self.local_tag, body=sdp,
                                     headers=[("contact", self.agent.contact)])  # fmt: skip
        data, interval, waited = response.encode(), T1, 0.0
        while not self._ack.done() and waited < TIMEOUT and not self.is_over:
            try:
                await asyncio.wait_for(asyncio.shield(self._ack), interval)
            except TimeoutError:
                waited += interval
                interval = min(interval * 2, T2)
                if self.agent.transport is not None and not self.is_over:
                    self.agent.transport.sendto(data, self.agent.proxy)
        if not self._ack.done():
            if not self.is_over:  # no ACK: the caller's side is gone; end the dialog cleanly
                self.established = True
                await self.hang_up()
            return False
        self.established = True
        return True

    def acked(self, request: Request) -> None:
        if not self._ack.done():
            self._ack.set_result(True)

    def reject(self, status: int, reason: str) -> None:
        if self._final_sent or self.is_over:
            return
        self._final_sent = True
        self.agent.answer(self.invite, status, reason, to_tag=self.local_tag)
        self.finish(f"rejected {status}")

    def cancelled(self) -> None:
        if self._final_sent:
            return  # too late: the call was answered, a BYE will follow
        self._final_sent = True
        self.agent.answer(self.invite, 487, "Request Terminated", to_tag=self.local_tag)
        self.finish("cancelled")

    def _stop_unanswered(self) -> None:
        self.reject(480, "Temporarily Unavailable")


class ClientLeg(Leg):
    """A call we make (to a secretary's phone, to a collaborator through the trunk)."""

    def __init__(self, agent: Agent, uri: str, sdp: str, from_uri: str,
                 headers: list[tuple[str, str]] | None = None) -> None:  # fmt: skip
        super().__init__(agent, token(12) + "@permanence", token(6))
        self.target, self.local_sdp = uri, sdp
        self.local_uri, self.remote_uri = f"<{from_uri}>", f"<{uri}>"
        self.status = 0  # the latest response's status
        self.answered: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.branch = token(8)
        self.invite = Request(
            [("via", agent.via(self.branch)), ("max-forwards", "70"),
             ("from", f"{self.local_uri};tag={self.local_tag}"), ("to", self.remote_uri),
             ("call-id", self.call_id), ("cseq", f"{self.local_seq} INVITE"), ("contact", agent.contact),
             ("user-agent", agent.user_agent), *(headers or []), ("content-type", "application/sdp")],
            sdp, "INVITE", uri,
        )  # fmt: skip
        self._ack: Request | None = None
        agent.legs[(self.call_id, self.local_tag)] = self

    def start(self) -> ClientLeg:
        self.agent.request(self.invite, self._progress)
        return self

    def _progress(self, response: Response) -> None:
        self.status = response.status
        if response.status < 200:
            return
        if 200 <= response.status < 300:
            self.remote_tag = param(response.get("to"), "tag")
            self.remote_uri = response.get("to").split(";tag=")[0]
            self.target = uri_of(response.get("contact") or self.target)
            self.route = list(reversed(response.all("record-route")))
            self.remote_sdp = response.body
            self.send_ack()
            self.established = True
            if self.is_over:  # cancelled meanwhile but answered anyway: end it with a BYE
                self.agent.request(self.in_dialog("BYE"))
        else:  # a refusal: the transaction's ACK, same branch
            ack = Request(
                [("via", self.agent.via(self.branch)), ("max-forwards", "70"),
                 ("from", self.invite.get("from")), ("to", response.get("to")), ("call-id", self.call_id),
                 ("cseq", f"{self.local_seq} ACK")],
                "", "ACK", self.invite.uri,
            )  # fmt: skip
            self.agent.send(ack)
            self.finish(f"refused {response.status}")
        if not self.answered.done():
            self.answered.set_result(response)

    def send_ack(self) -> None:
        if self._ack is None:
            self._ack = self.in_dialog("ACK")
            self._ack.set("cseq", f"{self.local_seq - 1} ACK")  # the INVITE's number
            self.local_seq -= 1
        self.agent.send(self._ack)

    def _stop_unanswered(self) -> None:
        """CANCEL the INVITE (the 487 that follows ends the leg)."""
        cancel = Request(
            [("via", self.agent.via(self.branch)), ("max-forwards", "70"), ("from", self.invite.get("from")),
             ("to", self.invite.get("to")), ("call-id", self.call_id), ("cseq", f"{self.local_seq} CANCEL")],
            "", "CANCEL", self.invite.uri,
        )  # fmt: skip
        self.finish("cancelled")
        self.agent.request(cancel)
