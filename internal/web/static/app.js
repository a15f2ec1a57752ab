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
