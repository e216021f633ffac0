/* The desk's softphone, in the shell page desk/phone.html (real telephony only).

   JsSIP registers with Kamailio over WebSocket with the secretary's ephemeral credentials (fetched
   from the server, renewed before they expire, never in the page). The call control rings her for
   a call with an INVITE carrying X-Permanence-Call (the call's id) and X-Permanence-Account (its
   name): the phone rings, and answers only when the desk page in the frame accepts that call
   (window.top.PermanencePhone.accept(id), just before its Answer form is sent). An accept that comes
   before the INVITE is kept a while and answers it on arrival.

   window.PermanencePhone = {accept(id), hangup(id?), state(), sessions} for the desk page and tests.
*/
(function () {
  "use strict";
  var bar = document.getElementById("phone");
  var words = JSON.parse(document.getElementById("phone-words").textContent);
  var lineBox = document.getElementById("phone-line");
  var callBox = document.getElementById("phone-call");
  var muteButton = document.getElementById("phone-mute");
  var keypadButton = document.getElementById("phone-keypad-toggle");
  var keypad = document.getElementById("phone-keypad");
  var hangupButton = document.getElementById("phone-hangup");
  var checkButton = document.getElementById("phone-check");
  var toneButton = document.getElementById("phone-tone");
  var meterBar = document.getElementById("phone-meter");
  var soundNote = document.getElementById("phone-sound");
  var remoteAudio = document.getElementById("phone-remote");
  var frame = document.getElementById("desk-frame");
  var baseTitle = document.title;

  // rtpengine's offers carry a=rtcp-mux but no BUNDLE group: "max-bundle" would refuse them.
  var PC_CONFIG = {iceServers: [], rtcpMuxPolicy: "require"};
  var MEDIA = {audio: true, video: false};
  var PENDING_MS = 60000; // how long an accepted call waits for its INVITE
  var ENDED_SHOWN_MS = 4000;

  var ua = null;
  var line = {state: "connecting", reason: ""};
  var retryDelay = 2000;
  var retryTimer = null;
  var renewTimer = null;
  var sessions = {}; // call id -> JsSIP session
  var calls = {}; // call id -> {account, state: ringing | answering | talking, since}
  var pending = {}; // call id -> when accept() came before the INVITE
  var current = null; // the call id she talks on
  var unknown = 0;
  var lastEnd = null; // {call, cause, at}
  var dtmfPlayed = "";

  function now() { return Date.now(); }
  function noop() {}

  // ---- sound: one AudioContext for the ring, the test tone and the level meter ----
  var audio = null;
  function sound() {
    if (!audio) {
      var Context = window.AudioContext || window.webkitAudioContext;
      audio = new Context();
      audio.onstatechange = render;
    }
    if (audio.state === "suspended") { audio.resume().catch(noop); }
    return audio;
  }
  function wake() { if (!audio || audio.state === "suspended") { sound().resume().then(render, noop); } }
  ["pointerdown", "keydown"].forEach(function (type) { document.addEventListener(type, wake, true); });
  frame.addEventListener("load", function () { // a click in the desk wakes the sound too (same origin)
    try {
      ["pointerdown", "keydown"].forEach(function (type) { frame.contentDocument.addEventListener(type, wake, true); });
      document.title = (ringing().length ? words.incoming + " · " : "") + baseTitle;
    } catch (e) { /* another origin in the frame: nothing to listen to */ }
  });

  function beep(ctx, frequencies, start, length, level) {
    var gain = ctx.createGain();
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(level, start + 0.02);
    gain.gain.setValueAtTime(level, start + length - 0.03);
    gain.gain.linearRampToValueAtTime(0, start + length);
    gain.connect(ctx.destination);
    var last = null;
    frequencies.forEach(function (frequency) {
      var osc = ctx.createOscillator();
      osc.frequency.value = frequency;
      osc.connect(gain);
      osc.start(start);
      osc.stop(start + length);
      last = osc;
    });
    return last;
  }

  var ringTimer = null;
  function ringOnce() {
    var ctx = sound(), t = ctx.currentTime + 0.05;
    beep(ctx, [880, 1100], t, 0.35, 0.12); // two short warbles, then silence: a ring, not an alarm
    beep(ctx, [880, 1100], t + 0.5, 0.35, 0.12);
  }
  function startRing() { if (!ringTimer) { ringOnce(); ringTimer = setInterval(ringOnce, 3000); } }
  function stopRing() { clearInterval(ringTimer); ringTimer = null; }

  toneButton.addEventListener("click", function () {
    var ctx = sound(), osc = beep(ctx, [440], ctx.currentTime + 0.05, 1.2, 0.2);
    toneButton.dataset.playing = "1";
    osc.onended = function () { delete toneButton.dataset.playing; };
  });

  // ---- level meter: the headset check's microphone, or the call's own while talking ----
  var meter = {stream: null, source: null, analyser: null, timer: null};
  var check = null; // the stream opened by the headset check
  function meterOn(stream) {
    meterOff();
    var ctx = sound(), samples = new Float32Array(1024);
    meter.stream = stream;
    meter.source = ctx.createMediaStreamSource(stream);
    meter.analyser = ctx.createAnalyser();
    meter.analyser.fftSize = 1024;
    meter.source.connect(meter.analyser);
    meter.timer = setInterval(function () {
      meter.analyser.getFloatTimeDomainData(samples);
      var sum = 0;
      for (var i = 0; i < samples.length; i++) { sum += samples[i] * samples[i]; }
      var db = 20 * Math.log10(Math.sqrt(sum / samples.length) || 1e-8);
      var level = Math.max(0, Math.min(1, (db + 60) / 60)); // -60 dBFS (silence) .. 0 dBFS
      meterBar.style.width = Math.round(level * 100) + "%";
      meterBar.parentNode.dataset.level = level.toFixed(2);
      meterBar.parentNode.dataset.peak = Math.max(parseFloat(meterBar.parentNode.dataset.peak || "0"), level).toFixed(2);
    }, 80);
    meterBar.parentNode.hidden = false;
  }
  function meterOff() {
    clearInterval(meter.timer);
    if (meter.source) { meter.source.disconnect(); }
    meter = {stream: null, source: null, analyser: null, timer: null};
    meterBar.style.width = "0";
    meterBar.parentNode.dataset.level = "0";
  }
  function meterFollow() { // what the meter shows: the call's microphone, else the check's, else nothing
    var session = current && sessions[current], track = null;
    if (session && session.connection) {
      session.connection.getSenders().forEach(function (s) { if (s.track && s.track.kind === "audio") { track = s.track; } });
    }
    if (track) { if (!meter.stream || meter.stream.getAudioTracks()[0] !== track) { meterOn(new MediaStream([track])); } }
    else if (check) { if (meter.stream !== check) { meterOn(check); } }
    else { meterOff(); meterBar.parentNode.hidden = true; }
  }
  checkButton.addEventListener("click", function () {
    if (check) {
      check.getTracks().forEach(function (t) { t.stop(); });
      check = null; checkButton.textContent = words.headset_check; checkButton.setAttribute("aria-pressed", "false");
      meterFollow();
      return;
    }
    sound();
    navigator.mediaDevices.getUserMedia({audio: true, video: false}).then(function (stream) {
      check = stream; checkButton.textContent = words.headset_stop; checkButton.setAttribute("aria-pressed", "true");
      delete meterBar.parentNode.dataset.peak;
      meterFollow();
    }, function () {
      checkButton.textContent = words.headset_no_mic;
    });
  });

  // ---- the line: credentials, registration, reconnection ----
  function setLine(state, reason) { line = {state: state, reason: reason || ""}; render(); }

  function fetchCredentials() {
    return fetch(bar.dataset.credentials, {credentials: "same-origin", cache: "no-store", redirect: "error",
                                           headers: {Accept: "application/json"}})
      .then(function (response) { if (!response.ok) { throw new Error(String(response.status)); } return response.json(); });
  }

  function retry() { // the next attempt, later and later (2 s .. 1 min)
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 60000);
  }

  function connect() {
    clearTimeout(retryTimer);
    fetchCredentials().then(function (c) {
      if (ua) { // renewed: the next REGISTER (now) authenticates with them
        ua.set("authorization_user", c.username);
        ua.set("password", c.password);
        if (ua.isConnected()) { ua.register(); }
      } else {
        start(c);
      }
      renewBefore(c.expires);
    }).catch(function () {
      setLine("down", words.no_credentials);
      retry();
    });
  }

  function renewBefore(expires) { // halfway to the expiry, within 30 s .. 6 h (the clocks may differ)
    var left = expires * 1000 - now();
    clearTimeout(renewTimer);
    renewTimer = setTimeout(connect, Math.max(30000, Math.min(left / 2, 6 * 3600 * 1000)));
  }

  function start(c) {
    setLine("connecting", "");
    ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(c.ws)],
      uri: c.uri,
      authorization_user: c.username,
      password: c.password,
      register: true,
      session_timers: false,
      user_agent: "Permanence desk",
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30
    });
    ua.on("connecting", function () { if (line.state !== "down") { setLine("connecting", ""); } });
    ua.on("connected", function () { setLine("connecting", ""); });
    ua.on("disconnected", function () { setLine("down", words.ws_closed); }); // JsSIP reconnects by itself
    ua.on("registered", function () { retryDelay = 2000; setLine("connected", ""); });
    ua.on("unregistered", function () { if (line.state === "connected") { setLine("connecting", ""); } });
    ua.on("registrationFailed", function (e) {
      var C = JsSIP.C.causes, reason;
      if (e.cause === C.CONNECTION_ERROR) { reason = words.ws_closed; }
      else if (e.cause === C.REQUEST_TIMEOUT) { reason = words.no_answer; }
      else { reason = words.refused + (e.response ? " (" + e.response.status_code + " " + e.response.reason_phrase + ")" : ""); }
      setLine("down", reason);
      if (e.cause !== C.CONNECTION_ERROR) { retry(); } // new credentials, then REGISTER again
    });
    ua.on("newRTCSession", incoming);
    ua.start();
  }

  // ---- calls ----
  function header(request, name) { return (request.getHeader(name) || "").trim(); }

  function ringing() { return Object.keys(calls).filter(function (id) { return calls[id].state === "ringing"; }); }

  function incoming(event) {
    if (event.originator !== "remote") { return; } // the desk makes no calls from here
    var session = event.session;
    // a supervisor's listening leg (live supervision): answered at once, never rung
    var supervising = header(event.request, "X-Permanence-Supervision");
    var id = (supervising ? "s" : "") + (header(event.request, "X-Permanence-Call") || "?" + (++unknown));
    var old = sessions[id];
    if (old && old !== session && !old.isEnded()) { old.terminate(); }
    sessions[id] = session;
    calls[id] = {account: header(event.request, "X-Permanence-Account"), state: "ringing", since: now()};
    session.on("peerconnection", function (e) {
      e.peerconnection.addEventListener("track", function (t) { if (t.track.kind === "audio") { hear(session); } });
    });
    session.on("confirmed", function () {
      if (sessions[id] !== session) { return; }
      calls[id].state = "talking"; calls[id].since = now();
      current = id;
      hear(session);
      listenDtmf(session);
      meterFollow();
      render();
    });
    session.on("muted", render);
    session.on("unmuted", render);
    session.on("ended", function (e) { gone(id, session, e.cause); });
    session.on("failed", function (e) { gone(id, session, e.cause); });
    var asked = pending[id];
    delete pending[id];
    if (supervising || (asked && now() - asked < PENDING_MS)) { answer(id); } else { startRing(); }
    render();
  }

  function answer(id) {
    var session = sessions[id];
    if (!session || !calls[id] || calls[id].state !== "ringing") { return false; }
    calls[id].state = "answering";
    current = id;
    if (!ringing().length) { stopRing(); }
    try {
      session.answer({mediaConstraints: MEDIA, pcConfig: PC_CONFIG});
    } catch (e) { // no longer answerable (cancelled meanwhile): its "failed" clears it
      calls[id].state = "ringing";
      current = null;
    }
    render();
    return true;
  }

  function hear(session) { // JsSIP plays nothing itself: the remote track goes to the <audio> element
    if (!session.connection) { return; }
    var tracks = session.connection.getReceivers().map(function (r) { return r.track; })
      .filter(function (t) { return t && t.kind === "audio"; });
    if (tracks.length) {
      remoteAudio.srcObject = new MediaStream(tracks);
      remoteAudio.play().catch(noop);
    }
  }

  function listenDtmf(session) {
    session.connection.getSenders().forEach(function (sender) {
      if (sender.track && sender.track.kind === "audio" && sender.dtmf) {
        sender.dtmf.addEventListener("tonechange", function (e) { if (e.tone) { dtmfPlayed += e.tone; render(); } });
      }
    });
  }

  function gone(id, session, cause) {
    if (sessions[id] !== session) { return; }
    var was = calls[id];
    delete sessions[id];
    delete calls[id];
    if (current === id) {
      current = null;
      remoteAudio.srcObject = null;
    }
    if (!ringing().length) { stopRing(); }
    lastEnd = {call: id, cause: cause || "", at: now(), account: was ? was.account : "", answered: was && was.state !== "ringing"};
    meterFollow();
    render();
    setTimeout(render, ENDED_SHOWN_MS + 50);
  }

  function accept(id) {
    id = String(id);
    Object.keys(pending).forEach(function (k) { if (now() - pending[k] > PENDING_MS) { delete pending[k]; } });
    if (answer(id)) { return "answered"; }
    if (calls[id]) { return calls[id].state; } // already answering or talking
    pending[id] = now();
    return "pending";
  }

  function hangup(id) {
    var ids = id === undefined || id === null ? Object.keys(sessions) : [String(id)];
    // marked: her hang-up ends the call; a BYE without the mark (the page closing) only loses her line
    ids.forEach(function (k) { var s = sessions[k];
      if (s && !s.isEnded()) { s.terminate({extraHeaders: ["X-Permanence-Reason: hangup"]}); } });
  }

  function muted() { var s = current && sessions[current]; return !!(s && s.isMuted().audio); }

  muteButton.addEventListener("click", function () {
    var s = current && sessions[current];
    if (!s) { return; }
    if (s.isMuted().audio) { s.unmute({audio: true}); } else { s.mute({audio: true}); }
  });
  hangupButton.addEventListener("click", function () { if (current) { hangup(current); } });
  keypadButton.addEventListener("click", function () {
    keypad.hidden = !keypad.hidden;
    keypadButton.setAttribute("aria-expanded", String(!keypad.hidden));
  });
  keypad.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-tone]"), s = current && sessions[current];
    if (!button || !s || calls[current].state !== "talking") { return; }
    var sent = document.getElementById("phone-dtmf");
    try { // RFC 4733 events in the audio stream (RTCDTMFSender), once the media flow
      s.sendDTMF(button.dataset.tone, {transportType: JsSIP.C.DTMF_TRANSPORT.RFC2833, duration: 120, interToneGap: 70});
      sent.textContent = ((sent.dataset.failed ? "" : sent.textContent) + button.dataset.tone).slice(-16);
      delete sent.dataset.failed;
    } catch (e) {
      sent.textContent = words.dtmf_failed;
      sent.dataset.failed = "1";
    }
  });
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") { keypad.hidden = true; keypadButton.setAttribute("aria-expanded", "false"); } });

  // ---- the bar ----
  function clock(ms) {
    var s = Math.floor(ms / 1000);
    return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
  }

  function render() {
    bar.dataset.line = lineBox.dataset.state = line.state;
    lineBox.querySelector(".text").textContent = words[line.state];
    lineBox.querySelector(".reason").textContent = line.reason ? "— " + line.reason : "";
    lineBox.title = line.reason ? words[line.state] + " — " + line.reason : "";

    var waiting = ringing(), talking = current && calls[current];
    var state = "idle", text = words.idle, extra = "";
    if (talking) {
      state = talking.state === "talking" ? "talking" : "answering";
      text = (state === "talking" ? words.talking : words.answering) + " — " + (talking.account || words.unknown_account);
      if (state === "talking") { extra = clock(now() - talking.since); }
    } else if (waiting.length) {
      state = "ringing";
      text = words.incoming + " — " + (calls[waiting[0]].account || words.unknown_account);
      if (waiting.length > 1) { extra = "+" + (waiting.length - 1); }
    } else if (lastEnd && now() - lastEnd.at < ENDED_SHOWN_MS && lastEnd.answered) {
      state = "ended";
      // answered, but the browser gave no microphone: the call could not be taken
      text = lastEnd.cause === JsSIP.C.causes.USER_DENIED_MEDIA_ACCESS ? words.headset_no_mic : words.ended;
    }
    callBox.dataset.state = state;
    callBox.querySelector(".what").textContent = text;
    callBox.querySelector(".timer").textContent = extra;
    document.title = (state === "ringing" ? words.incoming + " · " : "") + baseTitle;

    var live = state === "talking";
    muteButton.disabled = !live;
    hangupButton.disabled = !(talking);
    keypadButton.disabled = !live;
    if (!live) { keypad.hidden = true; keypadButton.setAttribute("aria-expanded", "false"); }
    checkButton.hidden = toneButton.hidden = !!talking; // no headset check (nor test tone in her ears) on a call
    var isMuted = muted();
    muteButton.setAttribute("aria-pressed", String(isMuted));
    muteButton.textContent = isMuted ? words.muted : words.mute;
    soundNote.hidden = !(audio && audio.state === "suspended" && (state === "ringing" || state === "talking"));
  }
  setInterval(function () { if (current) { render(); } }, 1000); // the call's clock

  window.addEventListener("beforeunload", function (event) {
    if (current) { event.preventDefault(); event.returnValue = ""; } // leaving would cut the caller off
  });
  window.addEventListener("pagehide", function () { if (ua) { ua.stop(); } });

  window.PermanencePhone = {
    accept: accept,
    hangup: hangup,
    sessions: sessions,
    state: function () {
      var out = {};
      Object.keys(calls).forEach(function (id) { out[id] = {state: calls[id].state, account: calls[id].account}; });
      return {
        line: line.state, reason: line.reason, registered: !!(ua && ua.isRegistered()),
        calls: out, current: current, muted: muted(), pending: Object.keys(pending),
        dtmf: dtmfPlayed, lastEnd: lastEnd, ring: !!ringTimer, sound: audio ? audio.state : "none"
      };
    }
  };

  render();
  connect();
})();
