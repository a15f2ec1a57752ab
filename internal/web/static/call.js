// @ts-check
// The call: one RTCPeerConnection to Attaché's media server. The server
// makes every offer and this page answers; signalling messages are handled
// strictly in order, so that no candidate overtakes its offer. Each other
// participant is a tile, found by the stream id the server gives their
// tracks; the list of people says who is there and in which role, the
// monitor included. A dropped connection is rejoined by itself (an ICE
// restart when only the media path broke, a new session when the socket
// did). Texts come from the page, in its language.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("call");
  if (!root) return;
  const d = root.dataset;
  const host = d.host === "true";
  const $ = (/** @type {string} */ id) => document.getElementById(id);
  const joinBtn = /** @type {HTMLButtonElement} */ ($("call-join"));
  const leaveBtn = /** @type {HTMLButtonElement} */ ($("call-leave"));
  const endBtn = /** @type {HTMLButtonElement|null} */ ($("call-end"));
  const micBtn = /** @type {HTMLButtonElement|null} */ ($("call-mic"));
  const camBtn = /** @type {HTMLButtonElement|null} */ ($("call-cam"));
  const statusEl = /** @type {HTMLElement} */ ($("call-status"));
  const qualityEl = /** @type {HTMLElement} */ ($("call-quality"));
  const tiles = /** @type {HTMLElement} */ ($("call-tiles"));
  const peopleEl = /** @type {HTMLElement} */ ($("call-people"));
  const waitingBox = /** @type {HTMLElement|null} */ ($("call-waiting-box"));
  const waitingEl = /** @type {HTMLElement|null} */ ($("call-waiting"));
  const camSel = /** @type {HTMLSelectElement|null} */ ($("call-camera"));
  const recBtn = /** @type {HTMLButtonElement|null} */ ($("call-record"));
  const recBadge = /** @type {HTMLElement|null} */ ($("call-recording"));
  const consentBox = /** @type {HTMLElement|null} */ ($("call-consent"));
  let recording = false;
  const micSel = /** @type {HTMLSelectElement|null} */ ($("call-microphone"));

  /** @type {RTCPeerConnection|null} */ let pc = null;
  /** @type {WebSocket|null} */ let ws = null;
  /** @type {MediaStream|null} */ let local = null;
  /** @type {Map<string, {name: string, role: string}>} */ let people = new Map();
  let chain = Promise.resolve();
  let attached = false;
  let inCall = false; // joined, and not left or ended
  let hostMuted = false;
  let retries = 0; // reconnections since the media last flowed
  let resume = ""; // the token that brings this page back without waiting
  /** @type {number|undefined} */ let retryTimer;
  /** @type {number|undefined} */ let restartTimer;

  const say = (/** @type {string} */ text, cls = "muted") => { statusEl.textContent = text; statusEl.className = cls; };
  const roleLabel = (/** @type {string} */ role) => d["role" + role.charAt(0).toUpperCase() + role.slice(1)] || role;
  const send = (/** @type {object} */ m) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); };
  const show = (/** @type {HTMLElement|null} */ el, on = true) => { if (el) el.hidden = !on; };

  /** @param {string} id */
  function tileFor(id) {
    let tile = /** @type {HTMLElement|null} */ (tiles.querySelector(`[data-stream="${CSS.escape(id)}"]`));
    if (!tile) {
      tile = document.createElement("figure");
      tile.className = "tile";
      tile.dataset.stream = id;
      const video = document.createElement("video");
      video.autoplay = true;
      video.playsInline = true;
      tile.append(video, document.createElement("figcaption"));
      tiles.append(tile);
    }
    label(tile);
    return tile;
  }

  /** @param {HTMLElement} tile */
  function label(tile) {
    const p = people.get(tile.dataset.stream || "");
    const cap = tile.querySelector("figcaption");
    if (cap) cap.textContent = p ? `${p.name} (${roleLabel(p.role)})` : "";
  }

  function showSelf() {
    if (!local) return;
    const tile = tileFor("self");
    tile.classList.add("self");
    const video = /** @type {HTMLVideoElement} */ (tile.querySelector("video"));
    video.muted = true;
    video.srcObject = local;
    const cap = tile.querySelector("figcaption");
    if (cap) cap.textContent = d.you || "you";
  }

  /** A host's button acting on one participant. */
  function action(/** @type {string} */ text, /** @type {object} */ msg, cls = "secondary") {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `${cls} small-button`;
    b.textContent = text;
    b.addEventListener("click", () => send(msg));
    return b;
  }

  /** @typedef {{id: string, name: string, role: string, stream: string, muted?: boolean}} Person */
  /** @param {Person[]} list @param {Person[]|undefined} waiting */
  function setPeople(list, waiting) {
    people = new Map(list.map((p) => [p.stream, { name: p.name, role: p.role }]));
    peopleEl.replaceChildren(...list.map((p) => {
      const li = document.createElement("li");
      li.dataset.id = p.id;
      const name = document.createElement("span");
      name.textContent = `${p.name} — ${roleLabel(p.role)}`;
      li.append(name);
      if (p.role === "monitor") {
        li.className = "monitor";
        const m = document.createElement("span");
        m.className = "badge warn";
        m.textContent = d.monitoringBadge || "monitoring";
        li.append(" ", m);
      }
      if (p.muted) {
        const m = document.createElement("span");
        m.className = "badge warn";
        m.textContent = d.mutedBadge || "muted";
        li.append(" ", m);
      }
      if (host && p.role !== "officer") {
        const tools = document.createElement("span");
        tools.className = "tools";
        // The monitor sends nothing, and its presence is a condition of the
        // visit: nothing to mute, and not the consulate's to remove.
        if (p.role !== "monitor") {
          tools.append(action(p.muted ? d.actUnmute || "" : d.actMute || "", { type: "mute", id: p.id, muted: !p.muted }),
            action(d.actRemove || "", { type: "remove", id: p.id }, "danger"));
          li.append(tools);
        }
      }
      return li;
    }));
    if (waitingEl && waitingBox) {
      const w = waiting || [];
      show(waitingBox, w.length > 0);
      waitingEl.replaceChildren(...w.map((p) => {
        const li = document.createElement("li");
        li.dataset.id = p.id;
        li.textContent = `${p.name} — ${roleLabel(p.role)} `;
        li.append(action(d.actAdmit || "", { type: "admit", id: p.id }, ""));
        if (p.role !== "monitor") li.append(" ", action(d.actRefuse || "", { type: "remove", id: p.id }, "danger"));
        return li;
      }));
    }
    for (const tile of tiles.querySelectorAll("[data-stream]")) {
      const id = /** @type {HTMLElement} */ (tile).dataset.stream || "";
      if (id !== "self" && !people.has(id)) tile.remove();
      else if (id !== "self") label(/** @type {HTMLElement} */ (tile));
    }
  }

  /** The microphone as the participant and a host want it. */
  function applyMic() {
    const selfOff = micBtn ? micBtn.getAttribute("aria-pressed") === "true" : false;
    for (const track of local ? local.getAudioTracks() : []) track.enabled = !selfOff && !hostMuted;
    if (micBtn) {
      micBtn.disabled = hostMuted;
      micBtn.textContent = hostMuted ? d.msgMutedByHost || "" : (selfOff ? micBtn.dataset.off : micBtn.dataset.on) || "";
    }
  }

  /** Shows whether the call is being recorded, to everyone. */
  function setRecording(/** @type {boolean} */ on) {
    recording = on;
    if (recBadge) {
      recBadge.textContent = (on ? d.recOn : d.recOff) || "";
      recBadge.className = on ? "badge rec" : "badge";
    }
    if (recBtn) recBtn.textContent = (on ? d.recStop : d.recStart) || "";
    asking = false;
    if (on) show(consentBox, false);
  }

  /** @param {{type: string, on?: boolean, id?: string, resume?: string, ice_servers?: RTCIceServer[], sdp?: string, candidate?: RTCIceCandidateInit, participants?: Person[], waiting?: Person[], reason?: string, error?: string, muted?: boolean}} m */
  async function handle(m) {
    if (!pc) return;
    switch (m.type) {
      case "ice":
        // The relays this participant may use, before any offer: they are
        // in place when the answer starts gathering candidates.
        // "?relay" on the page's address sends everything through the relay:
        // support uses it to check a network that only TURN can cross.
        pc.setConfiguration({ ...pc.getConfiguration(), iceServers: m.ice_servers || [],
          iceTransportPolicy: new URLSearchParams(location.search).has("relay") ? "relay" : "all" });
        break;
      case "waiting":
        say(d.msgWaiting || "", "warn-text");
        break;
      case "offer": {
        await pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
        // The server's first m-lines of each kind receive from us: addTrack
        // takes the first unused transceiver of the kind the offer made.
        if (local && !attached) {
          attached = true;
          for (const track of local.getTracks()) pc.addTrack(track, local);
        }
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        send({ type: "answer", sdp: answer.sdp });
        break;
      }
      case "candidate":
        if (m.candidate) await pc.addIceCandidate(m.candidate);
        break;
      case "admitted":
        resume = m.resume || "";
        break;
      case "participants":
        setPeople(m.participants || [], m.waiting);
        break;
      case "muted":
        hostMuted = !!m.muted;
        applyMic();
        say(hostMuted ? d.msgMutedByHost || "" : d.msgInCall || "", hostMuted ? "warn-text" : "muted");
        break;
      case "ending":
        say(d.msgEnding || "", "warn-text");
        break;
      case "recording":
        setRecording(!!m.on);
        if (m.reason === "declined") say(`${m.id} ${d.msgRecDeclined}`, "warn-text");
        if (m.reason === "newcomer") say(d.msgRecNewcomer || "", "warn-text");
        break;
      case "consent":
        // Asked of everyone present but the officer who asked.
        show(consentBox);
        break;
      case "ended": {
        const reason = m.reason || "";
        const text = d["msgEnd" + reason.charAt(0).toUpperCase() + reason.slice(1)] || `${d.msgEnded} ${reason}`;
        if (reason === "server") reconnectLater(text);
        // Removed, or joined from another window: they may come back by hand.
        else stop(text, reason !== "removed" && reason !== "reconnected");
        break;
      }
      case "error":
        say(m.error || "", "field-error");
        break;
    }
  }

  /** The constraints for the chosen devices. */
  function constraints() {
    /** @type {MediaTrackConstraints} */
    const video = { width: { ideal: 640 }, height: { ideal: 360 } };
    if (camSel && camSel.value) video.deviceId = { exact: camSel.value };
    return { video, audio: micSel && micSel.value ? { deviceId: { exact: micSel.value } } : true };
  }

  /** Fills the device menus; labels appear once the browser allowed the devices. */
  async function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    const devices = await navigator.mediaDevices.enumerateDevices();
    for (const [sel, kind] of /** @type {[HTMLSelectElement|null, string][]} */ ([[camSel, "videoinput"], [micSel, "audioinput"]])) {
      if (!sel) continue;
      const current = local && local.getTracks().find((t) => t.kind === (kind === "videoinput" ? "video" : "audio"));
      const using = current ? current.getSettings().deviceId : sel.value;
      const found = devices.filter((dev) => dev.kind === kind);
      sel.replaceChildren(...found.map((dev, i) => {
        const o = document.createElement("option");
        o.value = dev.deviceId;
        o.textContent = dev.label || `${kind === "videoinput" ? d.camera : d.microphone} ${i + 1}`;
        o.selected = dev.deviceId === using;
        return o;
      }));
      show(/** @type {HTMLElement|null} */ (sel.closest(".device")), found.length > 0);
    }
  }

  /** Switches to the chosen camera or microphone, in the call too. */
  async function changeDevice(/** @type {"video"|"audio"} */ kind) {
    if (!local) return; // the choice is used when joining
    const c = constraints();
    let fresh;
    try {
      fresh = await navigator.mediaDevices.getUserMedia(kind === "video" ? { video: c.video } : { audio: c.audio });
    } catch (err) {
      say(`${d.msgDevices} ${err instanceof Error ? err.name : err}`, "field-error");
      return;
    }
    const track = fresh.getTracks()[0];
    for (const old of kind === "video" ? local.getVideoTracks() : local.getAudioTracks()) {
      local.removeTrack(old);
      old.stop();
    }
    local.addTrack(track);
    if (pc) {
      for (const sender of pc.getSenders()) if (sender.track && sender.track.kind === kind) await sender.replaceTrack(track);
      // A track added before the first offer is attached with it.
    }
    if (kind === "audio") applyMic();
    else if (camBtn) track.enabled = camBtn.getAttribute("aria-pressed") !== "true";
    showSelf();
  }

  async function join() {
    joinBtn.disabled = true;
    if (!window.isSecureContext || !window.RTCPeerConnection) {
      say(d.msgInsecure || "", "field-error");
      joinBtn.disabled = false;
      return;
    }
    // The device check's preview stream, when there is one, is the camera
    // the call sends: one capture, not two.
    const precall = $("precall");
    const preview = /** @type {HTMLVideoElement|null} */ ($("preview"));
    if (d.publish === "true" && !local && preview && preview.srcObject instanceof MediaStream) local = preview.srcObject;
    if (d.publish === "true" && !local) {
      try {
        local = await navigator.mediaDevices.getUserMedia(constraints());
      } catch (err) {
        say(`${d.msgDevices} ${err instanceof Error ? err.name : err}`, "field-error");
        joinBtn.disabled = false;
        return;
      }
    }
    show(precall, false);
    showSelf();
    listDevices().catch(() => {});
    inCall = true;
    connect();
    show(joinBtn, false);
    show(leaveBtn);
    show(endBtn);
    show(micBtn);
    show(camBtn);
    show(qualityEl);
    show(recBtn);
  }

  /** Opens a session: the signalling socket and a peer connection. */
  function connect() {
    say(d.msgConnecting || "");
    attached = false;
    chain = Promise.resolve();
    const conn = new RTCPeerConnection();
    pc = conn;
    // For tests and support: the page's connection, to read its statistics.
    /** @type {any} */ (window).attacheCall = conn;
    conn.onicecandidate = (e) => { if (e.candidate) send({ type: "candidate", candidate: e.candidate.toJSON() }); };
    conn.ontrack = (e) => {
      const stream = e.streams[0];
      if (!stream) return;
      const video = /** @type {HTMLVideoElement} */ (tileFor(stream.id).querySelector("video"));
      if (video.srcObject !== stream) video.srcObject = stream;
      stream.onremovetrack = () => {
        if (stream.getTracks().length === 0) tiles.querySelector(`[data-stream="${CSS.escape(stream.id)}"]`)?.remove();
      };
    };
    conn.onconnectionstatechange = () => {
      if (pc !== conn) return;
      const s = conn.connectionState;
      if (s === "connected") {
        retries = 0; // the media flows: a later drop starts counting again
        clearTimeout(restartTimer);
        restartTimer = undefined;
        say(hostMuted ? d.msgMutedByHost || "" : d.msgInCall || "", hostMuted ? "warn-text" : "muted");
      }
      // The media path broke (a network change): ask for new ICE
      // credentials; if that does not bring it back, start a new session.
      if ((s === "disconnected" || s === "failed") && restartTimer === undefined) {
        say(d.msgReconnecting || "", "warn-text");
        send({ type: "restart" });
        restartTimer = window.setTimeout(() => {
          restartTimer = undefined;
          if (pc === conn && conn.connectionState !== "connected") reconnectLater(d.msgReconnecting || "");
        }, 10000);
      }
    };
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = resume ? `?resume=${encodeURIComponent(resume)}` : "";
    const sock = new WebSocket(`${scheme}//${location.host}${d.socket}${query}`);
    ws = sock;
    /** @type {any} */ (window).attacheCallSocket = sock;
    sock.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      chain = chain.then(() => handle(m)).catch((err) => say(String(err), "field-error"));
    };
    // The close goes through the same chain: an "ended" sent just before it
    // is read first.
    sock.onclose = () => {
      chain = chain.then(() => { if (ws === sock && inCall) reconnectLater(d.msgReconnecting || ""); });
    };
  }

  /** Drops the session and tries again, waiting longer each time. */
  function reconnectLater(/** @type {string} */ message) {
    closeSession(true);
    if (!inCall) return;
    if (retries >= 6) {
      stop(d.msgLost || "", false);
      return;
    }
    const wait = Math.min(1000 * 2 ** retries, 15000);
    retries++;
    say(message, "warn-text");
    clearTimeout(retryTimer);
    retryTimer = window.setTimeout(() => { if (inCall) connect(); }, wait);
  }

  /** Closes the socket and the connection and clears the remote tiles; a
   * reconnection says so to the server (the network, not a hang-up). */
  function closeSession(reconnecting = false) {
    const sock = ws, conn = pc;
    ws = null;
    pc = null;
    clearTimeout(restartTimer);
    restartTimer = undefined;
    if (sock) sock.close(reconnecting ? 4000 : 1000);
    if (conn) conn.close();
    for (const tile of tiles.querySelectorAll("[data-stream]")) {
      if (/** @type {HTMLElement} */ (tile).dataset.stream !== "self") tile.remove();
    }
    setPeople([], []);
  }

  /** Ends the participant's call; over means the visit is over for good. */
  function stop(/** @type {string} */ message, over = false) {
    inCall = false;
    clearTimeout(retryTimer);
    closeSession();
    say(message);
    show(joinBtn, !over);
    joinBtn.disabled = false;
    show(leaveBtn, false);
    show(endBtn, false);
    show(micBtn, false);
    show(camBtn, false);
    show(qualityEl, false);
    show(recBtn, false);
    show(consentBox, false);
    setRecording(false);
  }

  // Microphone and camera: a muted track stays negotiated and sends
  // silence or black, so unmuting needs no renegotiation.
  for (const btn of [micBtn, camBtn]) {
    if (!btn) continue;
    btn.addEventListener("click", () => {
      const off = btn.getAttribute("aria-pressed") !== "true";
      btn.setAttribute("aria-pressed", String(off));
      if (btn === micBtn) {
        applyMic();
        return;
      }
      for (const track of local ? local.getVideoTracks() : []) track.enabled = !off;
      btn.textContent = (off ? btn.dataset.off : btn.dataset.on) || "";
    });
  }
  camSel?.addEventListener("change", () => { changeDevice("video"); });
  micSel?.addEventListener("change", () => { changeDevice("audio"); });
  navigator.mediaDevices?.addEventListener?.("devicechange", () => { listDevices().catch(() => {}); });
  listDevices().catch(() => {});

  // Connection quality, from the browser's statistics every five seconds:
  // shown as good, fair or poor, and reported to the server for the
  // visit's record.
  /** @type {{conn: RTCPeerConnection, lost: number, got: number, bytesIn: number, bytesOut: number, at: number}|null} */
  let last = null;
  setInterval(async () => {
    const conn = pc;
    if (!conn || conn.connectionState !== "connected") {
      last = null;
      return;
    }
    const report = await conn.getStats();
    let lost = 0, got = 0, bytesIn = 0, bytesOut = 0, jitter = 0, rtt = 0, pairId = "";
    report.forEach((s) => {
      if (s.type === "inbound-rtp") {
        lost += s.packetsLost || 0;
        got += s.packetsReceived || 0;
        bytesIn += s.bytesReceived || 0;
        jitter = Math.max(jitter, (s.jitter || 0) * 1000);
      } else if (s.type === "outbound-rtp") {
        bytesOut += s.bytesSent || 0;
      } else if (s.type === "transport" && s.selectedCandidatePairId) {
        pairId = s.selectedCandidatePairId;
      }
    });
    // The round trip of the path in use (after an ICE restart, the new one).
    const pair = pairId ? report.get(pairId) : undefined;
    if (pair) rtt = (pair.currentRoundTripTime || 0) * 1000;
    const now = performance.now();
    // Counters go back when a track or the connection changes: start over.
    if (last && (last.conn !== conn || bytesIn < last.bytesIn || bytesOut < last.bytesOut || got < last.got)) last = null;
    if (last) {
      const secs = (now - last.at) / 1000;
      const dl = Math.max(0, lost - last.lost), dg = Math.max(0, got - last.got);
      const loss = dl + dg > 0 ? (100 * dl) / (dl + dg) : 0;
      const stats = { loss_pct: loss, rtt_ms: rtt, jitter_ms: jitter,
        kbps_in: (8 * (bytesIn - last.bytesIn)) / 1000 / secs, kbps_out: (8 * (bytesOut - last.bytesOut)) / 1000 / secs };
      const grade = loss >= 5 || rtt >= 400 ? "poor" : loss >= 1 || rtt >= 150 ? "fair" : "good";
      qualityEl.className = `badge quality ${grade}`;
      qualityEl.dataset.grade = grade;
      qualityEl.textContent = `${d.quality} ${d["quality" + grade.charAt(0).toUpperCase() + grade.slice(1)]}`;
      qualityEl.title = `${loss.toFixed(1)} % · ${rtt.toFixed(0)} ms · ${jitter.toFixed(0)} ms · ↓${stats.kbps_in.toFixed(0)} ↑${stats.kbps_out.toFixed(0)} kbit/s`;
      send({ type: "stats", stats });
    }
    last = { conn, lost, got, bytesIn, bytesOut, at: now };
  }, 5000);

  // The time left until the scheduled end, in the viewer's clock.
  const timer = $("call-timer");
  const ends = timer && timer.dataset.ends ? Date.parse(timer.dataset.ends) : NaN;
  const tick = () => {
    if (!timer || isNaN(ends)) return;
    const left = Math.max(0, Math.round((ends - Date.now()) / 1000));
    const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    const mmss = `${String(m).padStart(h ? 2 : 1, "0")}:${String(s).padStart(2, "0")}`;
    timer.textContent = `${timer.dataset.label} ${h ? h + ":" : ""}${mmss}`;
  };
  tick();
  setInterval(tick, 1000);

  // Start; while everyone is being asked, the same button withdraws the request.
  let asking = false;
  recBtn?.addEventListener("click", () => {
    if (!recording && !asking) {
      asking = true;
      recBtn.textContent = d.recCancel || "";
      send({ type: "record", on: true });
      return;
    }
    asking = false;
    if (!recording) recBtn.textContent = d.recStart || "";
    send({ type: "record", on: false });
  });
  for (const [id, agree] of /** @type {[string, boolean][]} */ ([["call-consent-yes", true], ["call-consent-no", false]])) {
    $(id)?.addEventListener("click", () => {
      send({ type: "consent", on: agree });
      show(consentBox, false);
    });
  }
  joinBtn.addEventListener("click", join);
  leaveBtn.addEventListener("click", () => stop(d.msgLeft || ""));
  // Ending is for everyone and for good: the button asks for a second click.
  endBtn?.addEventListener("click", () => {
    if (!endBtn.classList.contains("confirm")) {
      const label = endBtn.textContent || "";
      endBtn.classList.add("confirm");
      endBtn.textContent = d.msgConfirmEnd || label;
      setTimeout(() => { endBtn.classList.remove("confirm"); endBtn.textContent = label; }, 5000);
      return;
    }
    send({ type: "end" });
  });
  joinBtn.disabled = false; // the page is ready: no click is lost
});
