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
    el.textContent = t.toLocaleString(document.documentElement.lang || undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" }) + " (" + zone + ")";
  }
});

// Security keys and passkeys (WebAuthn): the browser's own JSON forms of
// the options and answers, posted with the session's CSRF token.
/**
 * @param {HTMLElement} box  element with data-options, data-finish, data-csrf
 * @param {"create"|"get"} kind
 * @param {string} query  added to the finish URL
 * @returns {Promise<any>} the server's answer to the finish step
 */
async function webauthnCeremony(box, kind, query) {
  const post = (/** @type {string} */ url, /** @type {string|undefined} */ body) =>
    fetch(url, { method: "POST", credentials: "same-origin", body,
      headers: { "X-CSRF-Token": box.dataset.csrf || "", "Content-Type": "application/json" } });
  const res = await post(box.dataset.options || "", undefined);
  if (!res.ok) throw new Error((await res.json()).error?.message || res.statusText);
  const opts = await res.json();
  /** @type {any} */
  const PKC = window.PublicKeyCredential;
  const cred = kind === "create"
    ? await navigator.credentials.create({ publicKey: PKC.parseCreationOptionsFromJSON(opts.publicKey) })
    : await navigator.credentials.get({ publicKey: PKC.parseRequestOptionsFromJSON(opts.publicKey) });
  if (!cred) throw new Error("no credential");
  const fin = await post((box.dataset.finish || "") + query, JSON.stringify(/** @type {any} */ (cred).toJSON()));
  const answer = await fin.json();
  if (!fin.ok) throw new Error(answer.error?.message || fin.statusText);
  return answer;
}

/** @param {HTMLElement} box @param {unknown} err */
function webauthnError(box, err) {
  const out = /** @type {HTMLElement|null} */ (box.querySelector("#key-error"));
  if (!out) return;
  const unsupported = !window.PublicKeyCredential || !("parseRequestOptionsFromJSON" in window.PublicKeyCredential);
  out.textContent = unsupported ? out.dataset.unsupported || "" : (err instanceof Error && err.name !== "NotAllowedError" && err.message) || out.dataset.failed || "";
  out.hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  const login = /** @type {HTMLElement|null} */ (document.getElementById("key-login"));
  login?.querySelector("#use-key")?.addEventListener("click", async () => {
    try {
      const answer = await webauthnCeremony(login, "get", "");
      window.location.assign(answer.next || "/");
    } catch (err) { webauthnError(login, err); }
  });
  const reg = /** @type {HTMLElement|null} */ (document.getElementById("key-register"));
  reg?.querySelector("#add-key")?.addEventListener("click", async () => {
    const name = /** @type {HTMLInputElement|null} */ (reg.querySelector("#f-key-name"))?.value || "";
    try {
      const answer = await webauthnCeremony(reg, "create", "?name=" + encodeURIComponent(name));
      const codes = answer.codes || [];
      if (codes.length === 0) { window.location.assign("/account/security"); return; }
      const box = /** @type {HTMLElement} */ (document.getElementById("new-codes"));
      const list = /** @type {HTMLElement} */ (document.getElementById("new-codes-list"));
      for (const c of codes) { const li = document.createElement("li"); li.textContent = c; list.appendChild(li); }
      box.hidden = false;
      box.scrollIntoView();
    } catch (err) { webauthnError(reg, err); }
  });
});
