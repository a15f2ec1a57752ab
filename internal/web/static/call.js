// @ts-check
// The call: one RTCPeerConnection to Attaché's media server. The server
// makes every offer and this page answers; signalling messages are handled
// strictly in order, so that no candidate overtakes its offer. Each other
// participant is a tile, found by the stream id the server gives their
// tracks; the list of people says who is there and in which role, the
// monitor included. Texts come from the page, in its language.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("call");
  if (!root) return;
  const d = root.dataset;
  const joinBtn = /** @type {HTMLButtonElement} */ (document.getElementById("call-join"));
  const leaveBtn = /** @type {HTMLButtonElement} */ (document.getElementById("call-leave"));
  const endBtn = /** @type {HTMLButtonElement|null} */ (document.getElementById("call-end"));
  const statusEl = /** @type {HTMLElement} */ (document.getElementById("call-status"));
  const tiles = /** @type {HTMLElement} */ (document.getElementById("call-tiles"));
  const peopleEl = /** @type {HTMLElement} */ (document.getElementById("call-people"));

  /** @type {RTCPeerConnection|null} */ let pc = null;
  /** @type {WebSocket|null} */ let ws = null;
  /** @type {MediaStream|null} */ let local = null;
  /** @type {Map<string, {name: string, role: string}>} */ let people = new Map();
  let chain = Promise.resolve();
  let attached = false;
  let leaving = false;

  const say = (/** @type {string} */ text) => { statusEl.textContent = text; };
  const roleLabel = (/** @type {string} */ role) => d["role" + role.charAt(0).toUpperCase() + role.slice(1)] || role;
  const send = (/** @type {object} */ m) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); };

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

  /** @param {{id: string, name: string, role: string, stream: string}[]} list */
  function setPeople(list) {
    people = new Map(list.map((p) => [p.stream, { name: p.name, role: p.role }]));
    peopleEl.replaceChildren(...list.map((p) => {
      const li = document.createElement("li");
      li.textContent = `${p.name} — ${roleLabel(p.role)}`;
      if (p.role === "monitor") li.className = "monitor";
      return li;
    }));
    for (const tile of tiles.querySelectorAll("[data-stream]")) {
      const id = /** @type {HTMLElement} */ (tile).dataset.stream || "";
      if (id !== "self" && !people.has(id)) tile.remove();
      else if (id !== "self") label(/** @type {HTMLElement} */ (tile));
    }
  }

  /** @param {{type: string, sdp?: string, candidate?: RTCIceCandidateInit, participants?: any[], reason?: string, error?: string}} m */
  async function handle(m) {
    if (!pc) return;
    switch (m.type) {
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
      case "participants":
        setPeople(m.participants || []);
        break;
      case "ending":
        say(d.msgEnding || "");
        statusEl.className = "warn-text";
        break;
      case "ended": {
        const reason = m.reason || "";
        stop(d["msgEnd" + reason.charAt(0).toUpperCase() + reason.slice(1)] || `${d.msgEnded} ${reason}`);
        if (reason !== "server") joinBtn.hidden = true; // the visit is over
        break;
      }
      case "error":
        say(m.error || "");
        break;
    }
  }

  async function join() {
    joinBtn.disabled = true;
    leaving = false;
    if (!window.isSecureContext || !window.RTCPeerConnection) {
      say(d.msgInsecure || "");
      joinBtn.disabled = false;
      return;
    }
    // The device check's preview stream, when there is one, is the camera
    // the call sends: one capture, not two.
    const precall = document.getElementById("precall");
    const preview = /** @type {HTMLVideoElement|null} */ (document.getElementById("preview"));
    if (d.publish === "true" && !local && preview && preview.srcObject instanceof MediaStream) local = preview.srcObject;
    if (d.publish === "true" && !local) {
      try {
        local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: { ideal: 640 }, height: { ideal: 360 } } });
      } catch (err) {
        say(`${d.msgDevices} ${err instanceof Error ? err.name : err}`);
        joinBtn.disabled = false;
        return;
      }
    }
    if (precall) precall.hidden = true;
    showSelf();
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
      if (conn.connectionState === "connected") say(d.msgInCall || "");
      if (conn.connectionState === "failed") stop(d.msgLost || "");
    };
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const sock = new WebSocket(`${scheme}//${location.host}${d.socket}`);
    ws = sock;
    sock.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      chain = chain.then(() => handle(m)).catch((err) => say(String(err)));
    };
    // The close goes through the same chain: an "ended" sent just before it
    // is read first.
    sock.onclose = () => {
      chain = chain.then(() => { if (ws === sock && !leaving) stop(d.msgLost || ""); });
    };
    joinBtn.hidden = true;
    leaveBtn.hidden = false;
    if (endBtn) endBtn.hidden = false;
    for (const id of ["call-mic", "call-cam"]) document.getElementById(id)?.removeAttribute("hidden");
  }

  /** @param {string} message */
  function stop(message) {
    leaving = true;
    if (ws) ws.close();
    if (pc) pc.close();
    ws = null;
    pc = null;
    for (const tile of tiles.querySelectorAll("[data-stream]")) {
      if (/** @type {HTMLElement} */ (tile).dataset.stream !== "self") tile.remove();
    }
    setPeople([]);
    say(message);
    joinBtn.hidden = false;
    joinBtn.disabled = false;
    leaveBtn.hidden = true;
    if (endBtn) endBtn.hidden = true;
    for (const id of ["call-mic", "call-cam"]) document.getElementById(id)?.setAttribute("hidden", "");
    statusEl.className = "muted";
  }

  // Microphone and camera: a muted track stays negotiated and sends
  // silence or black, so unmuting needs no renegotiation.
  for (const [id, kind] of [["call-mic", "audio"], ["call-cam", "video"]]) {
    const btn = /** @type {HTMLButtonElement|null} */ (document.getElementById(id));
    if (!btn) continue;
    btn.addEventListener("click", () => {
      const off = btn.getAttribute("aria-pressed") !== "true";
      for (const track of local ? local.getTracks() : []) if (track.kind === kind) track.enabled = !off;
      btn.setAttribute("aria-pressed", String(off));
      btn.textContent = (off ? btn.dataset.off : btn.dataset.on) || "";
    });
  }

  // The time left until the scheduled end, in the viewer's clock.
  const timer = document.getElementById("call-timer");
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

  joinBtn.addEventListener("click", join);
  leaveBtn.addEventListener("click", () => stop(d.msgLeft || ""));
  endBtn?.addEventListener("click", () => send({ type: "end" }));
  joinBtn.disabled = false; // the page is ready: no click is lost
});
