"""A carrier's trunk by registration: Kamailio registers the trunk's account at the carrier's registrar
(module uac, db_text table uacreg), takes the calls the registrar sends to the registered contact as
trunk calls, and answers the carrier's digest challenges on the calls it sends out.

The carrier is a Python SIP peer on 127.0.0.5 (registrar and proxy in one): it challenges, and checks
each answer against the digest computed here from the account; the call control is a Python stand-in
on its address. The password never shows in Kamailio's log (level 3) nor in the command's output,
and the files holding it are readable by their owner only; wrong settings are refused in words."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import re
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from permanence.telephony import config, sip
from permanence.telephony.fallback import Fallback
from waiting import wait_for

CARRIER = "127.0.0.5"  # the carrier's registrar and proxy
USERNAME = "0033972000001"  # the trunk's account, as a French carrier may give it
PASSWORD = 'Tr0nc:de\\test"$!'  # with the characters db_text escapes (':' and '\'), and a quote, '$'
NEW_PASSWORD = "an0ther-Passw0rd"
REALM = "carrier.invalid"  # the realm the carrier's challenges name
NUMBER = "+33145000101"  # an account's number, called through the carrier
ON_CALL = "+33611112222"  # that account's on-call number (the fallback table)
CALLER = "+33611111111"
SDP = ("v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
       "m=audio 40100 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")  # fmt: skip


def free_udp_port(host: str) -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest is MD5 by definition


def digest_fields(header: str) -> dict[str, str]:
    """The parameters of a Digest Authorization header (quoted or not)."""
    assert header.startswith("Digest "), header
    return {
        key: quoted or bare for key, quoted, bare in re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,"]+))', header)
    }


def expected_response(fields: dict[str, str], method: str, password: str) -> str:
    """RFC 2617's response for these credentials, computed here from the account (not Kamailio's)."""
    ha1 = md5(f"{USERNAME}:{REALM}:{password}")
    ha2 = md5(f"{method}:{fields['uri']}")
    if fields.get("qop"):
        return md5(f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}")
    return md5(f"{ha1}:{fields['nonce']}:{ha2}")


@dataclasses.dataclass
class Checked:
    """A request that answered a challenge, and what the carrier found in it."""

    request: sip.Request
    fields: dict[str, str]
    nonce: str  # the nonce the carrier gave
    right: bool  # the response is the one computed from the account


class Carrier(sip.Agent):
    """The carrier's registrar and proxy: REGISTER is challenged with 401 (qop=auth), each new INVITE
    with 407 (no qop); an answer with the right digest is accepted (200 registered; the call is then
    offered to the test, in ``calls``), a wrong one refused (403). It calls its customer's contact."""

    def __init__(self, local: tuple[str, int], edge: tuple[str, int]) -> None:
        super().__init__(local, edge, self._offered)
        self.password = PASSWORD
        self.nonces: dict[str, str] = {}  # by Call-ID
        self.registers: list[sip.Request] = []
        self.invites: list[sip.Request] = []  # the new INVITEs received, challenged or not
        self.checked: list[Checked] = []
        self.received: list[sip.Request] = []  # every request (ACKs, BYEs...)
        self.registered = ""  # the contact registered
        self.calls: list[sip.ServerLeg] = []

    def _offered(self, leg: sip.ServerLeg) -> None:
        self.calls.append(leg)

    def _request(self, request: sip.Request) -> None:
        self.received.append(request)
        if (request.branch, request.method) in self._replies or request.method not in ("REGISTER", "INVITE"):
            super()._request(request)  # a retransmission (answered again), an ACK, a BYE...
            return
        if request.method == "INVITE" and sip.param(request.get("to"), "tag"):
            super()._request(request)  # a re-INVITE
            return
        (self.registers if request.method == "REGISTER" else self.invites).append(request)
        name = "authorization" if request.method == "REGISTER" else "proxy-authorization"
        if not request.get(name):
            nonce = self.nonces[request.call_id] = sip.token(8)
            if request.method == "REGISTER":
                challenge = f'Digest realm="{REALM}", nonce="{nonce}", qop="auth", algorithm=MD5'
                self.answer(request, 401, "Unauthorized", to_tag=sip.token(4),
                            headers=[("www-authenticate", challenge)])  # fmt: skip
            else:
                challenge = f'Digest realm="{REALM}", nonce="{nonce}", algorithm=MD5'
                self.answer(request, 407, "Proxy Authentication Required", to_tag=sip.token(4),
                            headers=[("proxy-authenticate", challenge)])  # fmt: skip
            return
        fields = digest_fields(request.get(name))
        nonce = self.nonces.get(request.call_id, "")
        right = (
            fields.get("username") == USERNAME and fields.get("realm") == REALM
            and fields.get("nonce") == nonce and fields.get("uri") == request.uri
            and fields.get("response") == expected_response(fields, request.method, self.password)
        )  # fmt: skip
        self.checked.append(Checked(request, fields, nonce, right))
        if not right:
            self.answer(request, 403, "Forbidden", to_tag=sip.token(4))
            return
        if request.method == "REGISTER":
            self.registered = sip.uri_of(request.get("contact"))
            binding = f"<{self.registered}>;expires={request.get('expires')}"
            self.answer(request, 200, "OK", to_tag=sip.token(4), headers=[("contact", binding)])
            return
        super()._request(request)  # a new call: a ServerLeg, answered by the test

    def call_customer(self, number: str) -> sip.ClientLeg:
        """An INVITE to the registered contact, ``number`` (the number called) in To, as carriers do."""
        assert self.registered, "not registered"
        leg = sip.ClientLeg(self, self.registered, SDP.format(host=CARRIER), f"sip:{CALLER}@{REALM}")
        to = f"<sip:{number}@{REALM}>"
        leg.invite.set("to", to)
        leg.remote_uri = to
        return leg.start()


class Peers:
    """The carrier (started before Kamailio: it registers at once) and the call control's stand-in, in
    one event loop on a thread of their own; ``run`` executes a coroutine there."""

    def __init__(self, layout: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        edge = (layout.sip.host, layout.sip.port)
        self.carrier = Carrier((CARRIER, int(layout.registrar.rsplit(":", 1)[1])), edge)
        self.offered: list[sip.ServerLeg] = []  # the calls the call control got
        self.control = sip.Agent((layout.control.host, layout.control.port), edge, self.offered.append)
        self.run(self.carrier.start())
        self.run(self.control.start())

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        async def close() -> None:
            self.carrier.close()
            self.control.close()

        self.run(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def layout(layout: Any, request: pytest.FixtureRequest) -> Any:
    """The conftest's layout with a trunk by registration at the carrier (no gateway: the outbound
    legs go to the registrar); a test's parameters change it."""
    return dataclasses.replace(
        layout, registrar=f"sip:{CARRIER}:{free_udp_port(CARRIER)}", username=USERNAME,
        password=PASSWORD, expires=120, gateway="", **getattr(request, "param", {}),
    )  # fmt: skip


@pytest.fixture
def peers(layout: Any, tmp_path: Path) -> Iterator[Peers]:
    # the fallback table Kamailio loads at start: NUMBER's calls fall back to its on-call number
    from permanence.telephony import fallback

    fallback.write(tmp_path / "telephony", [Fallback(NUMBER, ON_CALL, "alpha")], "FR")
    running = Peers(layout)
    yield running
    running.close()


@pytest.fixture
def kamailio(peers: Peers, kamailio: Any) -> Any:
    """Kamailio started once the carrier listens (the conftest's, in tmp_path/telephony)."""
    return kamailio


def registered(peers: Peers, kamailio: Any) -> None:
    assert wait_for(lambda: bool(peers.carrier.registered), 15), (
        f"no registration: {len(peers.carrier.registers)} REGISTER received\n" + kamailio.text()[-3000:]
    )


def secret_kept(kamailio: Any) -> None:
    log = kamailio.text()
    assert PASSWORD not in log and config._escape(PASSWORD) not in log


# -- on the wire -----------------------------------------------------------------------------------


@pytest.mark.telephony
def test_the_trunk_registers_with_the_digest_of_its_account(layout, kamailio, peers, tmp_path):
    registered(peers, kamailio)
    first, second = peers.carrier.registers[:2]
    assert first.uri == second.uri == f"sip:{layout.registrar_hostport}"
    aor = f"sip:{USERNAME}@{layout.registrar_hostport}"
    assert sip.uri_of(first.get("to")) == sip.uri_of(first.get("from")) == aor
    assert peers.carrier.registered == f"sip:{USERNAME}@{layout.sip.host}:{layout.sip.port}"
    assert first.get("expires") == "120" and not first.get("authorization")
    answer = peers.carrier.checked[0]
    assert answer.right, answer  # the response computed here from the account, nonce and uri
    assert answer.fields["nonce"] == answer.nonce and answer.fields["qop"] == "auth"
    assert answer.fields["uri"] == f"sip:{layout.registrar_hostport}"
    assert second.cseq[0] == first.cseq[0] + 1 and second.call_id == first.call_id
    secret_kept(kamailio)
    folder = tmp_path / "telephony"
    for name in ("uacreg", "kamailio.cfg"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600, name
    assert config._escape(PASSWORD) in (folder / "uacreg").read_text()  # the password's only place
    assert PASSWORD not in (folder / "kamailio.cfg").read_text()


@pytest.mark.telephony
@pytest.mark.parametrize("layout", [{"realm": REALM}], indirect=True)
def test_a_realm_given_is_the_one_answered(layout, kamailio, peers):
    registered(peers, kamailio)
    assert peers.carrier.checked[0].right and peers.carrier.checked[0].fields["realm"] == REALM


@pytest.mark.telephony
@pytest.mark.parametrize("layout", [{"realm": "another.invalid"}], indirect=True)
def test_a_challenge_for_another_realm_is_not_answered(layout, kamailio, peers):
    assert wait_for(lambda: "realms do not match" in kamailio.text(), 10), kamailio.text()[-3000:]
    assert len(peers.carrier.registers) == 1 and not peers.carrier.checked and not peers.carrier.registered


@pytest.mark.telephony
def test_the_registrars_call_to_the_contact_reaches_the_call_control_with_the_number(layout, kamailio, peers):
    registered(peers, kamailio)

    async def call() -> tuple[sip.ServerLeg, sip.Response, str]:
        leg = peers.carrier.call_customer(NUMBER)
        while not peers.offered:
            await asyncio.sleep(0.02)
        offered = peers.offered[0]
        asyncio.ensure_future(offered.answer(SDP.format(host=layout.control.host)))
        answer = await asyncio.wait_for(leg.answered, 10)
        await asyncio.sleep(0.2)  # the ACK reaches the call control
        await leg.hang_up()  # the carrier's caller hangs up: the BYE follows the record-route
        ended = await asyncio.wait_for(offered.ended, 5)
        return offered, answer, ended

    offered, answer, ended = peers.run(call())
    assert answer.status == 200, kamailio.text()[-3000:]
    # sent to sip:<username>@<Kamailio>, the number in To: the call control reads it as the number called
    assert peers.carrier.registered.startswith(f"sip:{USERNAME}@")
    assert offered.called == NUMBER and offered.invite.uri.startswith(f"sip:{NUMBER}@")
    assert offered.caller == CALLER
    assert ended == "bye"
    secret_kept(kamailio)


@pytest.mark.telephony
def test_an_outbound_call_is_challenged_and_answered_with_the_trunks_credentials(layout, kamailio, peers):
    registered(peers, kamailio)
    edge = f"{layout.sip.host}:{layout.sip.port}"

    async def call() -> tuple[sip.Response, str]:
        leg = sip.ClientLeg(peers.control, f"sip:0612345678@{edge}", SDP.format(host=layout.control.host),
                            f"sip:{NUMBER}@{layout.sip_domain}").start()  # fmt: skip
        while not peers.carrier.calls:
            await asyncio.sleep(0.02)
        incoming = peers.carrier.calls[0]
        asyncio.ensure_future(incoming.answer(SDP.format(host=CARRIER)))
        answer = await asyncio.wait_for(leg.answered, 10)
        await asyncio.sleep(0.3)  # the ACK reaches the carrier
        await leg.hang_up()  # the call control hangs up (the transfer ends, say)
        return answer, await asyncio.wait_for(incoming.ended, 5)

    answer, ended = peers.run(call())
    assert answer.status == 200, kamailio.text()[-3000:]
    assert ended == "bye"
    challenged, authenticated = peers.carrier.invites[:2]
    uri = f"sip:0612345678@{layout.registrar_hostport}"
    assert challenged.uri == authenticated.uri == uri and not challenged.get("proxy-authorization")
    answer_to_challenge = peers.carrier.checked[-1]
    assert answer_to_challenge.request is authenticated and answer_to_challenge.right, answer_to_challenge
    assert answer_to_challenge.fields["uri"] == uri and "qop" not in answer_to_challenge.fields
    # the request answering the challenge has the next CSeq, and the rest of the call follows it
    invite_cseq = authenticated.cseq[0]
    assert invite_cseq == challenged.cseq[0] + 1 and authenticated.call_id == challenged.call_id
    in_dialog = [r for r in peers.carrier.received if r.call_id == authenticated.call_id]
    ack = [r for r in in_dialog if r.method == "ACK" and sip.param(r.get("to"), "tag") == incoming_tag(peers)]
    bye = [r for r in in_dialog if r.method == "BYE"]
    assert ack and ack[0].cseq[0] == invite_cseq, [r.get("cseq") for r in in_dialog]
    assert bye and bye[0].cseq[0] > invite_cseq, [r.get("cseq") for r in in_dialog]
    assert f"for a call to 0612345678: answered as {USERNAME}" in kamailio.text()
    secret_kept(kamailio)


def incoming_tag(peers: Peers) -> str:
    return peers.carrier.calls[0].local_tag


@pytest.mark.telephony
def test_a_call_the_call_control_cannot_take_is_forwarded_through_the_registrar_with_credentials(
    layout, kamailio, peers
):
    """The call control is down: the registrar's call is forwarded to the on-call number, back through
    the carrier, which challenges that call too."""
    registered(peers, kamailio)
    peers.run(_close(peers.control))  # the call control is down

    async def call() -> tuple[sip.Response, sip.ServerLeg]:
        leg = peers.carrier.call_customer(NUMBER)
        while not peers.carrier.calls:
            await asyncio.sleep(0.02)
        forwarded = peers.carrier.calls[0]
        asyncio.ensure_future(forwarded.answer(SDP.format(host=CARRIER)))
        answer = await asyncio.wait_for(leg.answered, 10)
        await asyncio.sleep(0.3)
        await leg.hang_up()
        await asyncio.wait_for(forwarded.ended, 5)
        return answer, forwarded

    answer, forwarded = peers.run(call())
    assert answer.status == 200, kamailio.text()[-3000:]
    assert forwarded.invite.uri == f"sip:{ON_CALL}@{layout.registrar_hostport}"
    assert "fallback=1" in forwarded.invite.get("record-route")
    challenged = [r for r in peers.carrier.invites if r.uri == forwarded.invite.uri]
    assert len(challenged) == 2 and peers.carrier.checked[-1].right
    assert challenged[1].cseq[0] == challenged[0].cseq[0] + 1
    assert f"forwarded to {ON_CALL}" in kamailio.text()
    secret_kept(kamailio)


async def _close(agent: sip.Agent) -> None:
    agent.close()


@pytest.mark.telephony
@pytest.mark.django_db
def test_reload_gives_kamailio_a_new_password(layout, kamailio, peers, settings, tmp_path):
    registered(peers, kamailio)
    folder = tmp_path / "telephony"
    settings.TELEPHONY_SIP_SECRET = "a-long-enough-test-secret"
    settings.TELEPHONY_SIP_DOMAIN = layout.sip_domain
    settings.TELEPHONY_TRUNK_REGISTRAR = layout.registrar
    settings.TELEPHONY_TRUNK_USERNAME = USERNAME
    settings.TELEPHONY_TRUNK_PASSWORD = NEW_PASSWORD
    peers.carrier.password = NEW_PASSWORD  # the carrier changed it
    out = io.StringIO()
    call_command("telephony", "reload", "--out", str(folder), stdout=out)
    assert f"Kamailio loaded the trunk's account ({USERNAME} at {layout.registrar})" in out.getvalue()
    assert NEW_PASSWORD not in out.getvalue()
    assert (folder / "uacreg").stat().st_mode & 0o777 == 0o600
    edge = f"{layout.sip.host}:{layout.sip.port}"

    async def call() -> sip.Response:
        leg = sip.ClientLeg(peers.control, f"sip:0612345678@{edge}", SDP.format(host=layout.control.host),
                            f"sip:{NUMBER}@{layout.sip_domain}").start()  # fmt: skip
        while not peers.carrier.calls:
            await asyncio.sleep(0.02)
        asyncio.ensure_future(peers.carrier.calls[0].answer(SDP.format(host=CARRIER)))
        answer = await asyncio.wait_for(leg.answered, 10)
        await leg.hang_up()
        return answer

    assert peers.run(call()).status == 200, kamailio.text()[-3000:]
    assert peers.carrier.checked[-1].right  # answered with the new password
    assert NEW_PASSWORD not in kamailio.text()


@pytest.mark.telephony
def test_a_password_the_carrier_no_longer_takes_gets_the_call_control_its_refusal(layout, kamailio, peers):
    registered(peers, kamailio)
    peers.carrier.password = NEW_PASSWORD  # changed at the carrier, not here
    edge = f"{layout.sip.host}:{layout.sip.port}"

    async def call() -> sip.Response:
        leg = sip.ClientLeg(peers.control, f"sip:0612345678@{edge}", SDP.format(host=layout.control.host),
                            f"sip:{NUMBER}@{layout.sip_domain}").start()  # fmt: skip
        return await asyncio.wait_for(leg.answered, 10)

    assert peers.run(call()).status == 403  # answered once, then the carrier's refusal as it is
    assert len(peers.carrier.invites) == 2 and not peers.carrier.checked[-1].right
    assert not peers.carrier.calls
    secret_kept(kamailio)


# -- the files and the settings --------------------------------------------------------------------


def test_the_table_holds_the_account_and_the_configuration_no_password(tmp_path):
    layout = config.Layout(
        trunk=("127.0.0.2",), registrar="sip:sip.carrier.invalid;transport=tcp", username=USERNAME,
        password=PASSWORD, realm="carrier.invalid", expires=300,
    )  # fmt: skip
    paths = config.write(layout, tmp_path)
    table = paths["uacreg"].read_text().splitlines()
    assert table == [
        config.UACREG_COLUMNS,
        f"1:{USERNAME}:{USERNAME}:127.0.0.1:{USERNAME}:sip.carrier.invalid:carrier.invalid:{USERNAME}:"
        'Tr0nc\\:de\\\\test"$!::sip\\:sip.carrier.invalid;transport=tcp:300:0:0::',
    ]
    assert (tmp_path / "version").read_text() == f"{config.VERSION_COLUMNS}\n1:uacreg:5\n"
    assert paths["uacreg"].stat().st_mode & 0o777 == 0o600
    text = paths["kamailio.cfg"].read_text()
    assert PASSWORD not in text and "Tr0nc" not in text
    assert (
        'loadmodule "uac.so"' in text
        and f'modparam("uac", "reg_db_url", "text://{tmp_path.absolute()}")' in text
    )
    # the carrier calls the contact over TCP too
    assert 'modparam("uac", "reg_contact_addr", "127.0.0.1:5060;transport=tcp")' in text
    assert 'dns_sys_match_ip("sip.carrier.invalid", "$si")' in text  # a registrar by name
    assert '$du = "sip:sip.carrier.invalid;transport=tcp";' in text
    assert '$ru = "sip:" + $rU + "@sip.carrier.invalid";' in text
    assert f'if ($rU == "{USERNAME}" && $tU != $null) {{' in text


def test_without_registrar_no_uac_and_no_table_left(tmp_path):
    (tmp_path / "uacreg").write_text("an old account\n")
    paths = config.write(config.Layout(trunk=("127.0.0.2",), gateway="sip:127.0.0.7"), tmp_path)
    assert "uacreg" not in paths and not (tmp_path / "uacreg").exists()
    text = paths["kamailio.cfg"].read_text()
    assert 'loadmodule "uac.so"' not in text and "reg_db_url" not in text
    assert "dlg_manage" not in text and "TRUNK_AUTH" not in text


def test_a_registrar_given_as_an_ip_is_a_trunk_address(tmp_path):
    layout = config.Layout(registrar="sip:127.0.0.5:5090", username="u1", password="p1")
    text = config.render(layout, tmp_path)["kamailio.cfg"]
    trunk = text.split("route[FROM_TRUNK] {")[1].split("\n}\n")[0]
    assert 'if ($si == "127.0.0.5") return 1;' in trunk and "dns_sys_match_ip" not in trunk


@pytest.fixture
def trunk_settings(settings: Any) -> Any:
    settings.TELEPHONY_SIP_SECRET = "a-long-enough-test-secret"
    settings.TELEPHONY_TRUNK_REGISTRAR = "sip:127.0.0.5:5090"
    settings.TELEPHONY_TRUNK_USERNAME = USERNAME
    settings.TELEPHONY_TRUNK_PASSWORD = PASSWORD
    return settings


def test_the_command_writes_the_table_and_never_says_the_password(db, trunk_settings, tmp_path):
    out = io.StringIO()
    call_command("telephony", "config", "--out", str(tmp_path), stdout=out)
    said = out.getvalue()
    assert f"wrote {tmp_path / 'uacreg'}: Kamailio registers {USERNAME} at sip:127.0.0.5:5090" in said
    assert PASSWORD not in said and config._escape(PASSWORD) not in said
    assert (tmp_path / "uacreg").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "kamailio.cfg").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        (
            {"TELEPHONY_TRUNK_REGISTRAR": "127.0.0.5:5090"},
            "TELEPHONY_TRUNK_REGISTRAR='127.0.0.5:5090': write a SIP URI",
        ),
        ({"TELEPHONY_TRUNK_REGISTRAR": "sips:carrier.invalid"}, "write a SIP URI such as sip:"),
        ({"TELEPHONY_TRUNK_REGISTRAR": "sip:127.0.0.5:70000"}, "write a SIP URI"),
        ({"TELEPHONY_TRUNK_REGISTRAR": "sip:127.0.0.5;transport=tls"}, "not TLS; write ;transport=tcp"),
        (
            {"TELEPHONY_TRUNK_PASSWORD": ""},
            "TELEPHONY_TRUNK_USERNAME is set but TELEPHONY_TRUNK_PASSWORD is empty",
        ),
        (
            {"TELEPHONY_TRUNK_USERNAME": ""},
            "TELEPHONY_TRUNK_PASSWORD is set but TELEPHONY_TRUNK_USERNAME is empty",
        ),
        ({"TELEPHONY_TRUNK_USERNAME": "", "TELEPHONY_TRUNK_PASSWORD": ""}, "is set, but no account"),
        ({"TELEPHONY_TRUNK_REGISTRAR": ""}, "TELEPHONY_TRUNK_REGISTRAR is empty"),
        ({"TELEPHONY_TRUNK_USERNAME": "jean dupont"}, "TELEPHONY_TRUNK_USERNAME='jean dupont': use letters"),
        ({"TELEPHONY_TRUNK_USERNAME": "user@carrier"}, "as in a SIP address"),
        ({"TELEPHONY_TRUNK_PASSWORD": "mot de passe"}, "TELEPHONY_TRUNK_PASSWORD: use letters, digits"),
        ({"TELEPHONY_TRUNK_PASSWORD": "mötdepässe"}, "no space, accented letter"),
        ({"TELEPHONY_TRUNK_PASSWORD": "line\nbreak"}, "line break"),
        ({"TELEPHONY_TRUNK_REALM": 'the "realm"'}, "TELEPHONY_TRUNK_REALM="),
        ({"TELEPHONY_TRUNK_EXPIRES": 30}, "TELEPHONY_TRUNK_EXPIRES=30: give seconds between 60 and 86400"),
    ],
)
def test_wrong_trunk_settings_are_refused_in_words(trunk_settings, tmp_path, changes, words):
    for name, value in changes.items():
        setattr(trunk_settings, name, value)
    with pytest.raises(CommandError, match=re.escape(words)) as refused:
        call_command("telephony", "config", "--out", str(tmp_path))
    assert not (tmp_path / "kamailio.cfg").exists() and not (tmp_path / "uacreg").exists()
    password = changes.get("TELEPHONY_TRUNK_PASSWORD", PASSWORD)
    if password:
        assert password not in str(refused.value)  # a password is never repeated, even a bad one
