// @ts-check
// Small enhancements for Attaché's pages. Nothing here is needed for a
// page to work: forms post without it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Ask before destructive actions: <form data-confirm="Revoke this token?">.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (ev) => {
      const msg = /** @type {HTMLFormElement} */ (form).dataset.confirm || "";
      if (!window.confirm(msg)) ev.preventDefault();
    });
  }
  // Copy buttons: <button data-copy="#id">.
  for (const btn of document.querySelectorAll("button[data-copy]")) {
    btn.addEventListener("click", async () => {
      const sel = /** @type {HTMLElement} */ (btn).dataset.copy || "";
      const el = document.querySelector(sel);
      if (!el || !navigator.clipboard) return;
      await navigator.clipboard.writeText(el.textContent || "");
      btn.textContent = btn.getAttribute("data-copied") || "Copied";
    });
  }
});

// Show instants in the viewer's own time zone, labelled:
// <time datetime="2020-11-19T02:00:00Z" data-local>.
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll("time[data-local]")) {
    const t = new Date(el.getAttribute("datetime") || "");
    if (isNaN(t.getTime())) continue;
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    el.textContent = t.toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" }) + " (" + zone + ")";
  }
});
