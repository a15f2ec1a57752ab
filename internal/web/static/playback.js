// @ts-check
// Plays the tracks of one recording together: one button, one position.
// The files share one timeline (milliseconds from the recording's start),
// so keeping their currentTime equal keeps them in sync; drift is corrected
// every second.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("playback");
  if (!box) return;
  const tracks = /** @type {HTMLMediaElement[]} */ ([...box.querySelectorAll("[data-track]")]);
  const btn = /** @type {HTMLButtonElement} */ (document.getElementById("play-all"));
  const seek = /** @type {HTMLInputElement} */ (document.getElementById("play-seek"));
  const time = /** @type {HTMLElement} */ (document.getElementById("play-time"));
  if (!tracks.length || !btn || !seek) return;
  const master = () => tracks.reduce((a, b) => (b.duration > a.duration ? b : a));
  const fmt = (/** @type {number} */ s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
  let playing = false;

  const ready = () => {
    const d = Math.max(...tracks.map((t) => (isFinite(t.duration) ? t.duration : 0)));
    seek.max = String(d);
    btn.disabled = seek.disabled = d === 0;
  };
  for (const t of tracks) t.addEventListener("loadedmetadata", ready);
  ready();

  btn.addEventListener("click", async () => {
    playing = !playing;
    btn.textContent = (playing ? box.dataset.pause : box.dataset.play) || "";
    const at = master().currentTime;
    for (const t of tracks) {
      if (playing) {
        t.currentTime = at;
        t.play().catch(() => {}); // a track shorter than the position has ended
      } else t.pause();
    }
  });
  seek.addEventListener("input", () => {
    for (const t of tracks) t.currentTime = Number(seek.value);
  });
  setInterval(() => {
    const m = master();
    seek.value = String(m.currentTime);
    time.textContent = fmt(m.currentTime);
    if (!playing) return;
    for (const t of tracks) {
      if (t !== m && !t.ended && Math.abs(t.currentTime - m.currentTime) > 0.15) t.currentTime = m.currentTime;
    }
  }, 1000);
});
