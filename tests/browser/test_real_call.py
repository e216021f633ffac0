"""A real call, end to end: a caller on the trunk's address (127.0.0.2) calls through the project's
Kamailio; Permanence's call control (``permanence.telephony.control``, in a thread of this process)
answers it with rtpengine's media and rings the softphone of the secretary signed in with headless
Chromium (a fake microphone saying a sentence); she answers with the desk's key (Enter on the offer). What
each side hears is recorded (the caller's RTP; the browser's remote stream through WebAudio) and
measured with sox. Then hold, a transfer, and her browser closing mid-call."""

from __future__ import annotations

import array
import asyncio
import re
import subprocess
import threading
import time
import wave
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from browser.conftest import wait_until
from browser.test_softphone import WEBRTC, connected, shell, sip  # noqa: F401 (fixtures)
from sip_peers import Gateway, TrunkCaller, speech_seconds, ulaw_samples
from telephony.conftest import kamailio, layout, rtpengine, speech, telephony_tools  # noqa: F401
from waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.telephony, pytest.mark.django_db(transaction=True)]

RECORD = """() => {  // what the secretary hears, as the page plays it: 8 kHz samples, kept in the page
  const stream = document.getElementById("phone-remote").srcObject;
  const context = new AudioContext({sampleRate: 8000});
  const source = context.createMediaStreamSource(stream);
  const tap = context.createScriptProcessor(2048, 1, 1);
  window.__heard = [];
  tap.onaudioprocess = (event) => { window.__heard.push(...event.inputBuffer.getChannelData(0)); };
  source.connect(tap); tap.connect(context.destination);
  window.__recording = context;
}"""


@pytest.fixture(scope="module")
def webrtc_chromium(chromium: Any, speech: Any) -> Iterator[Any]:  # noqa: F811
    """Chromium whose fake microphone says a sentence (espeak-ng), in a loop: her voice."""
    from browser.conftest import CHROMIUM

    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync", *WEBRTC,
              f"--use-file-for-fake-audio-capture={speech['spoken']}"],
    )  # fmt: skip
    yield browser
    browser.close()


class Wire:
    """An event loop in a thread: the call control and the caller's SIP agent live there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="wire", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def wire(layout: Any, rtpengine: Any, kamailio: Any) -> Iterator[tuple[Wire, Any, TrunkCaller]]:  # noqa: F811
    from permanence.telephony.control import CallControl
    from permanence.telephony.ng import Client

    wire = Wire()

    async def begin() -> tuple[Any, asyncio.Event, asyncio.Future[None], TrunkCaller]:
        control = CallControl(
            local=(layout.control.host, layout.control.port), proxy=(layout.sip.host, layout.sip.port),
            rtpengine=Client(layout.ng), media_address="127.0.0.1", domain=layout.sip_domain, poll=0.1,
            phone_silence=3.0,
        )  # fmt: skip
        stop = asyncio.Event()
        running = asyncio.ensure_future(control.run(stop))
        while control.agent.transport is None:
            await asyncio.sleep(0.01)
        caller = await TrunkCaller((layout.sip.host, layout.sip.port)).start()
        return control, stop, running, caller

    control, stop, running, caller = wire.run(begin())
    yield wire, control, caller

    async def end() -> None:
        stop.set()
        await running
        caller.close()

    wire.run(end())
    wire.close()


def heard_in_browser(page: Any, seconds: float, folder: Path, name: str) -> tuple[float, float]:
    """Record what the page plays for ``seconds``; (seconds louder than -34 dBFS, RMS) by sox."""
    page.evaluate("() => { window.__heard = []; }")
    page.wait_for_timeout(int(seconds * 1000))
    samples = page.evaluate("() => window.__heard.splice(0)")
    path = folder / f"{name}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(array.array("h", (int(max(-1.0, min(1.0, s)) * 32767) for s in samples)).tobytes())
    stat = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True, check=True).stderr
    rms = float(re.search(r"RMS\s+amplitude:\s+([\d.]+)", stat).group(1))  # type: ignore[union-attr]
    loud = 0
    for at in range(0, len(samples) - 800, 800):
        window = samples[at : at + 800]
        loud += (sum(s * s for s in window) / len(window)) ** 0.5 > 0.02
    return loud / 10, rms


def test_a_trunk_call_answered_in_the_browser_talks_both_ways_holds_transfers_and_survives_a_closed_browser(
    shell, wire, layout, personas, alpha, speech, tmp_path  # noqa: F811
):
    from browser.conftest import screenshot
    from factories import make_user
    from permanence.calls import services
    from permanence.calls.models import Call, CallEvent, Desk
    from permanence.users.models import Role, Training

    page, secretary = shell, personas["secretary"]
    runner, control, caller = wire

    def db(function: Any, *args: Any) -> Any:
        """Database work in the call control's database thread (SQLite's in-memory test database
        refuses a second writer at once)."""
        return runner.run(control.db(function, *args))
    connected(page)
    desk = page.frame_locator("iframe[name=desk-frame]")
    desk.get_by_role("button", name="Disponible").click()
    desk.get_by_test_id("status").filter(has_text="Disponible").wait_for()

    spoken = ulaw_samples(speech["ulaw"])

    async def ring() -> tuple[Any, Any]:
        leg, voice = await caller.call("0145000001")  # Alpha's number, national format, as carriers send
        assert (await leg.answered).status == 200
        voice.aim(leg.remote_sdp)
        voice.speak(spoken)
        return leg, voice

    leg, voice = runner.run(ring())
    invited = time.monotonic()
    wait_until(page, "document.querySelector('[data-testid=call]').dataset.state === 'ringing'",
               timeout=15_000)  # fmt: skip
    call = db(lambda: Call.objects.get(account=alpha))
    assert call.state == "offered" and call.offered_to == secretary
    answer = desk.get_by_role("button", name=re.compile("Décrocher"))
    answer.wait_for()
    answer.press("Enter")  # the same key as with the simulator
    # the answer goes browser → Kamailio → call control → its database thread → rtpengine and back:
    # on a loaded machine (a CI run saw over 10 s), as long as the ringing above may take
    wait_until(page, "document.querySelector('[data-testid=call]').dataset.state === 'talking'",
               timeout=20_000)  # fmt: skip
    assert wait_for(lambda: db(lambda: Call.objects.filter(pk=call.pk, state="talking").exists()), 5)
    desk.get_by_test_id("greeting").wait_for()  # her frame shows the call page; the call goes on
    setup = time.monotonic() - invited
    wait_until(page, "document.getElementById('phone-remote').srcObject !== null")
    page.evaluate(RECORD)

    # both ways, recorded on each side and measured with sox
    voice.received.clear()
    seconds, rms = heard_in_browser(page, 4, tmp_path, "secretary-hears")
    assert seconds >= 1.5 and rms > 0.01, (seconds, rms)  # the caller's sentence, through rtpengine
    caller_heard = bytes(voice.received)
    assert len(caller_heard) >= 8000 * 3  # media flowed the whole time
    assert speech_seconds(caller_heard, tmp_path, "caller-hears", 0.01) >= 1.5  # her (fake) microphone
    screenshot(page, "real-call-talking")

    # hold with music (Alt+H at the desk): she hears nothing, he hears the music
    desk.locator("body").press("Alt+h")
    assert wait_for(lambda: db(lambda: Call.objects.filter(pk=call.pk, state="on_hold").exists()), 5)
    page.wait_for_timeout(800)
    voice.received.clear()
    seconds, _ = heard_in_browser(page, 3, tmp_path, "secretary-on-hold")
    assert seconds == 0
    assert speech_seconds(bytes(voice.received), tmp_path, "caller-on-hold", 0.01) >= 2
    desk.locator("body").press("Alt+h")  # taken back
    assert wait_for(lambda: db(lambda: Call.objects.filter(pk=call.pk, state="talking").exists()), 5)
    page.wait_for_timeout(800)
    seconds, _ = heard_in_browser(page, 3, tmp_path, "secretary-back")
    assert seconds >= 0.5

    # an announced transfer the person refuses after hearing her: she comes back to the caller
    gateway = runner.run(Gateway(gateway_address(layout)).start((layout.sip.host, layout.sip.port)))
    try:
        db(services.request_transfer, call.pk, secretary, "anne-alphonse", "announced", "+33145000011")
        assert wait_for(lambda: bool(gateway.calls), 10)
        person = runner.run(gateway.answer(gateway.calls[0], spoken))
        page.wait_for_timeout(1000)
        person.received.clear()
        seconds, _ = heard_in_browser(page, 3, tmp_path, "secretary-hears-person")
        assert seconds >= 0.5  # she talks with the person; the caller waits with music
        assert speech_seconds(bytes(person.received), tmp_path, "person-hears-secretary", 0.01) >= 0.5
        db(services.transfer_result, call.pk, "refused", secretary)  # "Refusé" at the desk
        assert wait_for(lambda: gateway.calls[0].is_over, 5)
        page.wait_for_timeout(800)
        seconds, _ = heard_in_browser(page, 3, tmp_path, "secretary-back-from-transfer")
        assert seconds >= 0.5  # the caller again
    finally:
        gateway.close()

    # her browser closes mid-call: the caller is not cut off, he waits again for the next secretary
    other = db(make_user, "other", Role.SECRETARY)
    db(lambda: Training.objects.create(secretary=other, account=alpha))
    page.context.close()
    waiting = ["queued", "offered"]
    assert wait_for(lambda: db(lambda: Call.objects.filter(pk=call.pk, state__in=waiting).exists()), 15)
    assert db(lambda: Desk.objects.get(secretary=secretary).status) == "paused"
    assert not leg.is_over
    voice.received.clear()
    time.sleep(2)
    assert speech_seconds(bytes(voice.received), tmp_path, "caller-waits-again", 0.01) >= 1  # music
    events = CallEvent.objects.filter(call=call).order_by("seq")
    kinds = db(lambda: list(events.values_list("kind", flat=True)))
    assert kinds == ["arrived", "queued", "offered", "answered", "on_hold", "resumed", "transfer_requested",
                     "transfer_result", "line_lost"]  # fmt: skip
    print(f"\nINVITE to talking, through the desk's key press: {setup:.2f} s")


def gateway_address(layout: Any) -> tuple[str, int]:  # noqa: F811
    host, port = layout.gateway.removeprefix("sip:").rsplit(":", 1)
    return host, int(port)
