// logwright ui: what edit.js and register.js share. Every write is a JSON request to /api/
// with the X-Logwright-UI header, which no other site can make the browser send (see
// server/guard.py); errors are shown through textContent, never innerHTML.
// Load it before the script that uses it: <script src="/static/api.js" defer></script>.
"use strict";

(function () {
  if (window.logwrightAPI) return; // included by several partials of one page

  // Send `body` as JSON; resolve to the JSON answer, or throw an Error with the server's message.
  async function request(method, url, body) {
    const resp = await fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Logwright-UI": "1", Accept: "application/json" },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await resp.json(); } catch (err) { data = {}; }
    if (!resp.ok) throw new Error(data.error || (method + " " + url + ": " + resp.status));
    return data;
  }

  // Show `err`'s message in the (hidden) error box `box`, if there is one.
  function showError(box, err) {
    if (!box) return;
    box.textContent = err.message || String(err);
    box.hidden = false;
  }

  // Buttons with data-show="<form id>" open and close that form; a form's .cancel closes it.
  function bindToggles(root) {
    root.querySelectorAll("button[data-show]").forEach((btn) => {
      btn.addEventListener("click", () => {
        const form = document.getElementById(btn.dataset.show);
        form.hidden = !form.hidden;
        const field = form.querySelector("input, textarea");
        if (!form.hidden && field) field.focus();
      });
    });
    root.querySelectorAll("form .cancel").forEach((btn) => {
      btn.addEventListener("click", () => { btn.closest("form").hidden = true; });
    });
  }

  window.logwrightAPI = Object.freeze({ request: request, showError: showError, bindToggles: bindToggles });
})();
