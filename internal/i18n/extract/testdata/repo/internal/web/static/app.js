// Copy buttons say so: <button data-copied="Copied!">.
document.addEventListener("DOMContentLoaded", () => {
  const el = document.querySelector("[data-when]");
  const say = (/** @type {string} */ text, cls = "muted") => { el.textContent = text; el.className = cls; };
  for (const btn of document.querySelectorAll("[data-copy]")) {
    btn.textContent = btn.getAttribute("data-copied") || "Copied";
  }
  el.textContent = new Date().toLocaleString(undefined, { weekday: "short" });
  say("Connecting to the server", "warn-text");
  fetch("/api/v1/ping", { method: "POST" });
  if (!window.confirm('Leave the call?')) return;
});
