// logwright ui: edits (rename, tags, notes, delete, restore) and copy buttons.
// Every write goes through api.js (a JSON request to /api/ with the X-Logwright-UI header,
// see server/edits.py); the page reloads once it is stored.
// No inline scripts, no innerHTML: server-rendered markup only, text goes in through textContent.
"use strict";

(function () {
  if (window.__logwrightEdit) return; // included by several partials of one page
  window.__logwrightEdit = true;

  const { request: api, bindToggles } = window.logwrightAPI;

  function showError(near, err) {
    const section = near.closest("section") || document;
    const box = section.querySelector(".error[id$='error']") || document.getElementById("edit-error");
    window.logwrightAPI.showError(box, err);
  }

  async function act(el, method, url, body, then) {
    const buttons = document.querySelectorAll("section button, form button");
    buttons.forEach((b) => { b.dataset.wasDisabled = b.disabled ? "1" : ""; b.disabled = true; });
    try {
      const data = await api(method, url, body);
      if (then) then(data); else window.location.reload();
    } catch (err) {
      showError(el, err);
      buttons.forEach((b) => { b.disabled = b.dataset.wasDisabled === "1"; });
    }
  }

  function runURL(el) {
    const host = el.closest("[data-run]");
    return "/api/runs/" + encodeURIComponent(host.dataset.run);
  }

  function experimentURL(el) {
    const host = el.closest("[data-experiment]");
    return "/api/experiments/" + encodeURIComponent(host.dataset.experiment);
  }

  function onSubmit(id, handler) {
    const form = document.getElementById(id);
    if (!form) return;
    form.addEventListener("submit", (ev) => { ev.preventDefault(); handler(form); });
  }

  function bindRun() {
    const section = document.getElementById("run-edit");
    if (!section) return;
    onSubmit("rename-form", (f) => act(f, "PATCH", runURL(section), { name: f.elements.name.value }));
    onSubmit("notes-form", (f) => act(f, "PATCH", runURL(section), { description: f.elements.description.value }));
    section.querySelectorAll("button[data-action]").forEach((btn) => {
      // a deleted run is listed (with Restore) on its experiment's page
      const then = btn.dataset.action === "delete" ? (data) => {
        window.location.href = "/experiments/" + encodeURIComponent(data.run.experiment_id) + "#deleted-runs";
      } : null;
      btn.addEventListener("click", () => act(btn, "POST", runURL(section) + "/" + btn.dataset.action, {}, then));
    });
    const tagForm = document.getElementById("tag-form");
    if (tagForm) {
      tagForm.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const tags = {};
        tags[tagForm.elements.key.value.trim()] = tagForm.elements.value.value;
        act(tagForm, "PATCH", runURL(tagForm), { tags: tags });
      });
      addTagRemovers(tagForm);
    }
  }

  function addTagRemovers(tagForm) {
    const table = document.getElementById("tags");
    if (!table) return;
    table.querySelectorAll("tr").forEach((row) => {
      const key = row.cells[0].textContent;
      const cell = row.insertCell(-1);
      cell.className = "tag-remove";
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "remove-tag";
      btn.textContent = "×";
      btn.title = "remove tag " + key;
      btn.setAttribute("aria-label", "remove tag " + key);
      btn.addEventListener("click", () => act(tagForm, "PATCH", runURL(tagForm), { delete_tags: [key] }));
      cell.appendChild(btn);
    });
  }

  function tickedRuns() {
    return [...document.querySelectorAll('input[name="runs"]:checked')].map((b) => b.value);
  }

  async function deleteTicked(btn) {
    const ids = tickedRuns();
    for (const id of ids) {
      try { await api("POST", "/api/runs/" + encodeURIComponent(id) + "/delete"); } catch (err) { showError(btn, err); return; }
    }
    window.location.hash = "deleted-runs"; // reopens the list they went to, with Restore
    window.location.reload();
  }

  function bindExperiment() {
    const section = document.getElementById("experiment-edit");
    if (!section) return;
    onSubmit("rename-experiment-form", (f) => act(f, "PATCH", experimentURL(section), { name: f.elements.name.value }));
    onSubmit("experiment-notes-form",
      (f) => act(f, "PATCH", experimentURL(section), { description: f.elements.description.value }));
    section.querySelectorAll("button[data-action]").forEach((btn) => {
      btn.addEventListener("click", () => act(btn, "POST", experimentURL(section) + "/" + btn.dataset.action));
    });
    section.querySelectorAll("button.restore-run").forEach((btn) => {
      btn.addEventListener("click", () => act(btn, "POST", runURL(btn) + "/restore"));
    });
    const trash = document.getElementById("deleted-runs");
    if (trash && window.location.hash === "#deleted-runs") trash.open = true;
    const bulk = document.getElementById("delete-selected");
    if (bulk) {
      const update = () => {
        const n = tickedRuns().length;
        bulk.disabled = n === 0;
        bulk.textContent = n ? "Delete " + n + " selected run" + (n > 1 ? "s" : "") : "Delete selected runs";
      };
      document.addEventListener("change", (ev) => { if (ev.target.name === "runs") update(); });
      bulk.addEventListener("click", () => deleteTicked(bulk));
      update();
    }
  }

  function bindExperiments() {
    onSubmit("new-experiment-form", (f) => act(f, "POST", "/api/experiments", { name: f.elements.name.value },
      (data) => { window.location.href = "/experiments/" + encodeURIComponent(data.experiment.experiment_id); }));
    document.querySelectorAll("button.restore-experiment").forEach((btn) => {
      btn.addEventListener("click", () => act(btn, "POST", experimentURL(btn) + "/restore"));
    });
  }

  function bindCopy() {
    document.querySelectorAll("button.copy[data-copy]").forEach((btn) => {
      btn.addEventListener("click", async () => {
        const text = document.getElementById(btn.dataset.copy).textContent;
        let done = false;
        try { await navigator.clipboard.writeText(text); done = true; } catch (err) { done = false; }
        if (!done) { // no clipboard API (plain http on another host): select it for Ctrl+C
          const range = document.createRange();
          range.selectNodeContents(document.getElementById(btn.dataset.copy));
          const sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
          done = document.execCommand && document.execCommand("copy");
        }
        btn.textContent = done ? "Copied" : "Press Ctrl+C";
        btn.dataset.copied = done ? "1" : "";
        setTimeout(() => { btn.textContent = "Copy"; }, 1500);
      });
    });
  }

  function init() {
    bindToggles(document);
    bindRun();
    bindExperiment();
    bindExperiments();
    bindCopy();
    document.documentElement.dataset.editReady = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
