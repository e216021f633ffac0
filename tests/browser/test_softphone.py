"""The desk's softphone in headless Chromium (Debian's), registered with Kamailio from the project's
configuration with its ephemeral credentials; SIPp plays the call control ringing it (from the control's
address and port, the only one Kamailio lets call a secretary).

Chromium runs with a fake microphone (a beep) and WebRTC allowed on loopback (telephony recipe, P1).
The INVITE carries the offer rtpengine makes for a browser (as the call control does, through
``telephony.media``), and the test hands rtpengine the browser's answer: the caller's side is a UDP
socket of the test on rtpengine's plain-RTP side, which speaks to the secretary (espeak-ng) and hears
her microphone, her mute and her keypad's RFC 4733 events.
"""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import time as clock
from pathlib import Path
from typing import Any

import pytest

from browser.conftest import wait_until
from permanence.telephony.recorder import linear
from telephony.conftest import (  # noqa: F401 (fixtures)
    Daemon,
    free_port,
    kamailio,
    layout,
    rtpengine,
    speech,
    start,
    telephony_tools,
)
from waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.telephony, pytest.mark.django_db(transaction=True)]
SIPP = Path(__file__).resolve().parents[1] / "telephony" / "sipp"
WEBRTC = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
          "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip


@pytest.fixture(scope="module")
def webrtc_chromium(chromium: Any) -> Iterator[Any]:
    """A second Chromium from the suite's Playwright, with a fake microphone and WebRTC on loopback."""
    from browser.conftest import CHROMIUM

    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync", *WEBRTC],
    )  # fmt: skip
    yield browser
    browser.close()


@pytest.fixture
def sip(settings: Any, layout: Any) -> Any:  # noqa: F811 (the fixture imported above)
    """Real telephony, towards this test's Kamailio."""
    settings.TELEPHONY = "sip"
    settings.TELEPHONY_SIP_SECRET = layout.secret
    settings.TELEPHONY_SIP_DOMAIN = layout.sip_domain
    settings.TELEPHONY_WS_ADDRESS = f"{layout.ws.host}:{layout.ws.port}"
    return settings


@pytest.fixture
def shell(webrtc_chromium: Any, live_server: Any, sip: Any, personas: Any, alpha: Any) -> Iterator[Any]:
    """The secretary's phone shell, signed in, her desk in the frame; Alpha open round the clock."""
    from browser.conftest import sign_in
    from permanence.accounts.models import WeeklyHours
    from permanence.scenarios.models import ScenarioVersion

    WeeklyHours.objects.filter(account=alpha).delete()
    for day in range(7):
        WeeklyHours.objects.create(account=alpha, weekday=day, opens=clock(0), closes=clock(0))
    alpha.closed_on_holidays = False
    alpha.save()
    ScenarioVersion.objects.filter(scenario__account=alpha).update(status="published")
    context = webrtc_chromium.new_context(base_url=live_server.url, locale="fr-FR",
                                          viewport={"width": 1366, "height": 860})  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, "secretary")
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/desk/")
    page.get_by_test_id("phone-open").click()  # outside the shell, the desk offers it
    page.wait_for_url(re.compile(r"/desk/phone/$"))
    yield page
    context.close()
    assert problems == [], problems


def text(page: Any, testid: str) -> str:
    return " ".join(page.get_by_test_id(testid).inner_text().split())


def connected(page: Any) -> None:
    wait_until(page, "document.querySelector('[data-testid=line]').dataset.state === 'connected'")
    assert text(page, "line") == "Ligne : connectée"
    assert page.evaluate("PermanencePhone.state().registered") is True


def call_state(page: Any) -> str:
    return str(page.get_by_test_id("call").get_attribute("data-state"))


class Caller:
    """The caller's end of the call, where the call control joins it: rtpengine's anchor for the
    secretary's leg (its WebRTC offer for her browser) sends her media to this socket, and relays what
    this socket says (real speech, PCMU) to her."""

    def __init__(self, rtpengine: Any, speech: Path) -> None:  # noqa: F811
        from permanence.telephony.media import Anchor, Media

        self.media = Media(rtpengine, "127.0.0.1")
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", free_port()))
        self.socket.settimeout(0.1)
        caller = Anchor("caller", self.socket.getsockname()[1])
        self.anchor = self.media.offer_outgoing(f"softphone-{uuid.uuid4().hex[:8]}", caller, browser=True)
        self.voice = speech.read_bytes().split(b"data", 1)[1][4:]  # the WAV's mu-law samples
        self.heard: list[tuple[float, int, int, bytes]] = []  # (when, payload type, RTP timestamp, payload)
        self.running = True
        self.threads = [threading.Thread(target=self._listen, daemon=True)]
        self.threads[0].start()

    @property
    def offer(self) -> str:
        return self.anchor.endpoint_sdp

    def answered(self, sdp: str) -> None:
        """The browser's answer, given to rtpengine; then the caller speaks, in a loop."""
        self.media.outgoing_answered(self.anchor, sdp, browser=True)
        self.threads.append(threading.Thread(target=self._speak, daemon=True))
        self.threads[-1].start()

    def _listen(self) -> None:
        while self.running:
            try:
                packet = self.socket.recv(2048)
            except (TimeoutError, OSError):
                continue
            if len(packet) > 12:
                stamp = struct.unpack("!I", packet[4:8])[0]
                self.heard.append((time.monotonic(), packet[1] & 0x7F, stamp, packet[12:]))

    def _speak(self) -> None:
        sequence, stamp, frame, start = 0, 0, 0, time.monotonic()
        while self.running:
            chunk = self.voice[frame * 160:(frame + 1) * 160]
            if len(chunk) < 160:
                frame, chunk = 0, self.voice[:160]
            header = struct.pack("!BBHII", 0x80, 0, sequence & 0xFFFF, stamp & 0xFFFFFFFF, 0x5EC2E7A)
            self.socket.sendto(header + chunk, ("127.0.0.1", self.anchor.peer_port))
            sequence, stamp, frame = sequence + 1, stamp + 160, frame + 1
            time.sleep(max(0.0, start + sequence * 0.02 - time.monotonic()))

    def loudest(self, since: float, until: float) -> int:
        """The loudest sample of her voice (PCMU) the caller heard in that time."""
        return max((abs(linear(b)) for when, kind, _stamp, data in self.heard
                    if since <= when < until and kind == 0 for b in data), default=-1)  # fmt: skip

    def keys(self) -> str:
        """The RFC 4733 events the caller got (one per key pressed: an event's packets share a timestamp)."""
        names, events = "0123456789*#ABCD", {}
        for _when, kind, stamp, data in self.heard:
            if kind == 101 and len(data) >= 4 and data[0] < len(names):
                events.setdefault(stamp, names[data[0]])
        return "".join(events[stamp] for stamp in sorted(events))

    def close(self) -> None:
        self.running = False
        for thread in self.threads:
            thread.join(2)
        self.media.release(self.anchor)
        self.socket.close()


@pytest.fixture
def caller(rtpengine: Any, speech: Any) -> Iterator[Caller]:  # noqa: F811
    person = Caller(rtpengine, speech["ulaw"])
    yield person
    person.close()


def ring(tmp_path: Path, layout: Any, name: str, user: str, call: Any, account: str, offer: str,  # noqa: F811
         **words: str) -> subprocess.Popen[str]:  # fmt: skip
    """SIPp as the call control calls ``user`` (a secretary's softphone) for ``call`` with ``offer``."""
    text = (SIPP / name).read_text().replace("OFFER", "\n      ".join(offer.strip().splitlines()))
    for word, value in words.items():
        text = text.replace(word, value)
    scenario = tmp_path / name
    scenario.write_text(text)
    return subprocess.Popen(
        ["sipp", "-sf", str(scenario), "-i", layout.control.host, "-p", str(layout.control.port),
         "-mi", "127.0.0.1", "-mp", str(free_port()), "-s", user, "-key", "call", str(call),
         "-key", "account", account, "-m", "1", "-nostdin", "-timeout", "60s", "-trace_err", "-trace_msg",
         f"{layout.sip.host}:{layout.sip.port}"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finished(sipp: subprocess.Popen[str], tmp_path: Path, kamailio: Daemon, seconds: float = 20) -> str:  # noqa: F811
    """SIPp's end: it must have gone through its whole scenario; returns the messages it saw."""
    try:
        code = sipp.wait(seconds)
    except subprocess.TimeoutExpired:
        sipp.kill()
        sipp.wait()
        code = None
    messages = "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("*_messages.log"))
    errors = "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("*_errors.log"))
    assert code == 0, f"SIPp ended with {code}:\n{errors}\n{messages[-6000:]}\n{kamailio.text()[-3000:]}"
    return messages


def test_line_connected_headset_checked_then_line_down(shell, kamailio, tmp_path):  # noqa: F811
    from browser.conftest import screenshot

    page = shell
    connected(page)
    desk = page.frame_locator("iframe[name=desk-frame]")
    desk.get_by_role("button", name="Disponible").wait_for()  # she works in the frame as before
    assert desk.get_by_test_id("phone-open").is_hidden()  # no shell in the shell
    assert page.title() == "Poste · Permanence"

    # the headset: the (fake) microphone moves the meter; the test tone plays
    page.get_by_role("button", name="Tester le casque").click()
    meter = page.get_by_test_id("meter")
    meter.wait_for()
    levels = []
    for _ in range(30):
        levels.append(float(meter.get_attribute("data-level") or 0))
        page.wait_for_timeout(100)
    assert max(levels) > 0.2 and max(levels) - min(levels) > 0.1, levels  # Chromium's fake beep
    page.get_by_role("button", name="Son d’essai").click()
    assert page.get_by_role("button", name="Son d’essai").get_attribute("data-playing") == "1"
    assert page.evaluate("PermanencePhone.state().sound") == "running"
    wait_until(page, "!document.getElementById('phone-tone').dataset.playing", timeout=5000)
    screenshot(page, "softphone-connected")
    page.get_by_role("button", name="Arrêter le test").click()
    assert meter.is_hidden()

    kamailio.stop()  # the line goes down, with the reason
    wait_until(page, "document.querySelector('[data-testid=line]').dataset.state === 'down'")
    assert text(page, "line") == "Ligne : coupée — serveur téléphonique injoignable"
    assert page.evaluate("PermanencePhone.state().registered") is False
    screenshot(page, "softphone-down")

    folder = tmp_path / "telephony"  # Kamailio back, same configuration: the phone reconnects, registers
    again = start(["kamailio", "-DD", "-E", "-f", str(folder / "kamailio.cfg"), "-m", "64", "-M", "8",
                   "-Y", str(folder / "run")], tmp_path / "kamailio-again.log")  # fmt: skip
    try:
        wait_until(page, "document.querySelector('[data-testid=line]').dataset.state === 'connected'",
                   timeout=40_000)  # fmt: skip
        assert text(page, "line") == "Ligne : connectée"
    finally:
        again.stop()


def test_rings_answered_from_the_desk_then_talks_mutes_dials_and_hangs_up(
    shell, kamailio, layout, personas, caller, tmp_path  # noqa: F811
):
    from browser.conftest import screenshot
    from permanence.calls import services
    from permanence.calls.models import Call

    page, secretary = shell, personas["secretary"]
    connected(page)
    desk = page.frame_locator("iframe[name=desk-frame]")
    desk.get_by_role("button", name="Disponible").click()
    desk.get_by_test_id("status").filter(has_text="Disponible").wait_for()
    call = services.call_arrived("01 45 00 00 01", "06 11 11 11 11")
    assert Call.objects.get(pk=call.pk).offered_to == secretary
    desk.get_by_test_id("offer").wait_for(state="visible")

    sipp = ring(tmp_path, layout, "softphone_uac.xml", f"desk-{secretary.pk}", call.pk, "Cabinet Alpha",
                caller.offer)  # fmt: skip
    try:
        wait_until(page, "document.querySelector('[data-testid=call]').dataset.state === 'ringing'",
                   timeout=15_000)  # fmt: skip
        assert text(page, "call") == "Appel entrant — Cabinet Alpha"
        state = page.evaluate("PermanencePhone.state()")
        assert state["calls"] == {str(call.pk): {"state": "ringing", "account": "Cabinet Alpha"}}
        assert state["ring"] is True and state["current"] is None
        page.wait_for_timeout(1000)
        assert call_state(page) == "ringing"  # it rings; only the desk answers it
        screenshot(page, "softphone-ringing")

        desk.get_by_role("button", name=re.compile("Décrocher")).click()  # the desk's Answer answers it
        wait_until(page, "document.querySelector('[data-testid=call]').dataset.state === 'talking'")
        assert re.fullmatch(r"En communication — Cabinet Alpha 00:0\d", text(page, "call"))
        assert page.evaluate("PermanencePhone.state().ring") is False
        session = f"PermanencePhone.sessions[{call.pk}]"
        caller.answered(page.evaluate(f"{session}.connection.localDescription.sdp"))  # as the call control
        desk.get_by_test_id("greeting").wait_for()  # the frame went on to the call page: the call goes on
        assert page.evaluate("PermanencePhone.state().calls")[str(call.pk)]["state"] == "talking"

        # both ways: she hears the caller (through the <audio> element), the caller hears her microphone
        level = """async () => { let level = 0; (await %s.connection.getStats()).forEach(r => {
            if (r.type === "inbound-rtp" && r.kind === "audio") level = r.audioLevel || 0; });
            return level; }"""
        assert wait_for(lambda: page.evaluate(level % session) > 0.05, 15), "she does not hear the caller"
        played = "document.getElementById('phone-remote').srcObject.getAudioTracks()[0].readyState"
        assert page.evaluate(played) == "live"
        assert wait_for(lambda: caller.loudest(time.monotonic() - 1.5, time.monotonic()) > 1000, 10), \
            "the caller does not hear her"  # fmt: skip

        mute = page.locator("#phone-mute")
        mute.click()
        muted = time.monotonic()
        assert mute.get_attribute("aria-pressed") == "true" and mute.inner_text() == "Micro coupé"
        page.wait_for_timeout(2500)
        assert 0 <= caller.loudest(muted + 0.5, time.monotonic()) < 100  # silence, still sent
        mute.click()
        assert mute.inner_text() == "Couper le micro"
        back = time.monotonic()
        assert wait_for(lambda: caller.loudest(back + 0.3, time.monotonic()) > 1000, 5)

        page.get_by_role("button", name="Clavier").click()
        keypad = page.get_by_test_id("keypad")
        for key in "12#":
            keypad.get_by_role("button", name=key, exact=True).click()
        assert wait_for(lambda: caller.keys() == "12#", 5), caller.keys()  # RFC 4733, through rtpengine
        assert page.get_by_test_id("dtmf").inner_text() == "12#"
        assert page.evaluate("PermanencePhone.state().dtmf") == "12#"
        screenshot(page, "softphone-talking")
        page.keyboard.press("Escape")

        page.get_by_role("button", name="Raccrocher").click()
        messages = finished(sipp, tmp_path, kamailio)
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()
    answer = messages[messages.index("SIP/2.0 200 OK"):]
    assert "UDP/TLS/RTP/SAVPF" in answer[:answer.index("BYE sip:")]  # the browser's WebRTC answer
    wait_until(page, "document.querySelector('[data-testid=call]').dataset.state !== 'talking'")
    assert text(page, "call") == "Appel terminé"
    assert page.evaluate("Object.keys(PermanencePhone.sessions).length") == 0
    assert page.locator("#phone-hangup").is_disabled()


def test_accepted_before_its_invite_is_answered_when_it_comes(
    shell, kamailio, layout, personas, caller, tmp_path  # noqa: F811
):
    page, secretary = shell, personas["secretary"]
    connected(page)
    assert page.evaluate("PermanencePhone.accept(4242)") == "pending"
    sipp = ring(tmp_path, layout, "softphone_uac.xml", f"desk-{secretary.pk}", 4242, "Cabinet Alpha",
                caller.offer)  # fmt: skip
    try:
        wait_until(page, "document.querySelector('[data-testid=call]').dataset.state === 'talking'",
                   timeout=15_000)  # fmt: skip
        state = page.evaluate("PermanencePhone.state()")
        assert state["pending"] == [] and state["current"] == "4242" and state["ring"] is False
        page.evaluate("PermanencePhone.hangup(4242)")
        finished(sipp, tmp_path, kamailio)
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()


def test_a_call_cancelled_while_ringing_stops_ringing(
    shell, kamailio, layout, personas, caller, tmp_path  # noqa: F811
):
    page, secretary = shell, personas["secretary"]
    connected(page)
    sipp = ring(tmp_path, layout, "softphone_cancel.xml", f"desk-{secretary.pk}", 77, "Plomberie",
                caller.offer, RING_MS="2000")  # fmt: skip
    try:
        wait_until(page, "document.querySelector('[data-testid=call]').dataset.state === 'ringing'",
                   timeout=15_000)  # fmt: skip
        finished(sipp, tmp_path, kamailio)
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()
    wait_until(page, "document.querySelector('[data-testid=call]').dataset.state === 'idle'")
    state = page.evaluate("PermanencePhone.state()")
    assert state["calls"] == {} and state["ring"] is False and state["lastEnd"]["call"] == "77"
    assert text(page, "call") == "Aucun appel"  # a call never answered is not "ended" for her


def test_credentials_refused_say_so_and_renewed_ones_register_again(
    webrtc_chromium, live_server, sip, personas, kamailio, monkeypatch  # noqa: F811
):
    """Credentials Kamailio refuses: the line is down with the reason; good ones, renewed halfway to
    their expiry: a new REGISTER with them, accepted, the line never down."""
    from browser.conftest import sign_in
    from permanence.telephony import credentials

    right = sip.TELEPHONY_SIP_SECRET
    sip.TELEPHONY_SIP_SECRET = "not-the-secret-kamailio-knows"
    monkeypatch.setattr(credentials, "TTL", 64)  # renewed after 32 s
    context = webrtc_chromium.new_context(base_url=live_server.url, locale="fr-FR")
    page = context.new_page()
    frames: list[str] = []
    page.on("websocket", lambda ws: (ws.on("framesent", lambda f: frames.append(f"> {f}")),
                                     ws.on("framereceived", lambda f: frames.append(f"< {f}"))))  # fmt: skip
    try:
        sign_in(page, "secretary")
        page.wait_for_url(re.compile(r"/$"))
        page.goto("/desk/phone/")
        wait_until(page, "document.querySelector('[data-testid=line]').dataset.state === 'down'")
        assert text(page, "line") == "Ligne : coupée — inscription refusée (403 Forbidden)"

        sip.TELEPHONY_SIP_SECRET = right  # the next attempt fetches new credentials: accepted
        wait_until(page, "document.querySelector('[data-testid=line]').dataset.state === 'connected'",
                   timeout=15_000)  # fmt: skip
        first = page.evaluate("PermanencePhone.state()")
        assert first["registered"] is True

        def usernames() -> list[str]:
            page.wait_for_timeout(200)  # Playwright hands over the frames while it waits
            return sorted({m for f in frames if f.startswith("> REGISTER")
                           for m in re.findall(r'username="(\d+:desk-\d+)"', f)})  # fmt: skip

        before = usernames()
        assert wait_for(lambda: len(usernames()) > len(before), 45), frames[-4:]
        renewed = usernames()[-1]
        sent = next(i for i, f in enumerate(frames) if renewed in f)
        assert wait_for(lambda: usernames() and any(f.startswith("< SIP/2.0 200 OK") and "REGISTER" in f
                                                     for f in frames[sent:]), 5)  # fmt: skip
        assert page.evaluate("PermanencePhone.state().line") == "connected"
    finally:
        context.close()
