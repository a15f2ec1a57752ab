// @ts-check
// The pre-call check: camera and microphone (a live preview), and whether
// the server answers. Messages come from the page, in its language.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const box = document.getElementById("precall");
  if (!box) return;
  const say = (/** @type {string} */ id, /** @type {string} */ key, ok = false) => {
    const el = document.getElementById(id);
    if (!el) return;
    el.textContent = box.dataset[key] || key;
    el.className = ok ? "ok-text" : "field-error";
  };
  fetch("/healthz", { cache: "no-store" })
    .then((r) => say("precall-network", r.ok ? "msgNetwork" : "msgOffline", r.ok))
    .catch(() => say("precall-network", "msgOffline"));
  // A holder who only watches (the detaining state's monitor) sends
  // nothing: no camera is asked for.
  if (!document.getElementById("precall-devices")) return;
  if (!window.isSecureContext || !navigator.mediaDevices) {
    say("precall-devices", "msgInsecure");
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    const video = /** @type {HTMLVideoElement|null} */ (document.getElementById("preview"));
    if (video) video.srcObject = stream;
    say("precall-devices", "msgOk", true);
  } catch (err) {
    const name = err instanceof Error ? err.name : "";
    say("precall-devices", name === "NotFoundError" ? "msgNoDevice" : "msgCameraDenied");
  }
});
