// logwright ui: the model registry's controls. "Register" on a run's model (run page card,
// artifacts page model folder) and, on /models/<name>, aliases and descriptions.
// Every write goes through api.js (a JSON request to /api/models... with the X-Logwright-UI
// header, see server/registry_edits.py). No inline scripts, no innerHTML: text goes in through textContent.
"use strict";

(function () {
  if (window.__logwrightRegister) return; // included once per model card
  window.__logwrightRegister = true;

  const { request: api, showError, bindToggles } = window.logwrightAPI;

  function parseTags(text) {
    const tags = {};
    text.split(",").map((p) => p.trim()).filter(Boolean).forEach((pair) => {
      const at = pair.indexOf("=");
      if (at < 1) throw new Error("tags are key=value pairs separated by commas: " + pair);
      tags[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
    });
    return tags;
  }

  function registered(box, v) {
    box.textContent = "";
    box.append("Registered as version " + v.version + " of ");
    const link = document.createElement("a");
    link.href = v.url;
    link.className = "registered-link";
    link.textContent = v.name;
    box.append(link);
    box.append(v.aliases.length ? " (@" + v.aliases.join(", @") + "): " : ": ");
    const code = document.createElement("code");
    code.textContent = 'logwright.load_model("' + v.model_uri + '")';
    box.append(code);
    box.hidden = false;
  }

  function bindRegister(host) {
    const open = host.querySelector(".register-open");
    const form = host.querySelector(".register-form");
    if (!open || !form) return;
    const done = host.querySelector(".register-done");
    const error = host.querySelector(".register-error");
    open.addEventListener("click", () => { form.hidden = !form.hidden; if (!form.hidden) form.elements.name.focus(); });
    form.querySelector(".cancel").addEventListener("click", () => { form.hidden = true; });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      const submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      try {
        const body = { run_id: host.dataset.run, path: host.dataset.path, name: form.elements.name.value.trim(),
          tags: parseTags(form.elements.tags.value), description: form.elements.description.value };
        const alias = form.elements.alias.value.trim();
        if (alias) body.alias = alias;
        const data = await api("POST", "/api/models", body);
        form.hidden = true;
        form.reset();
        registered(done, data.version);
      } catch (err) {
        showError(error, err);
      } finally {
        submit.disabled = false;
      }
    });
  }

  async function act(section, method, url, body) {
    const error = section.querySelector(".registry-error");
    section.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      await api(method, url, body);
      window.location.reload();
    } catch (err) {
      showError(error, err);
      section.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  }

  function bindModelPage() {
    const section = document.getElementById("model-edit");
    if (!section) return;
    const url = "/api/models/" + encodeURIComponent(section.dataset.model);
    bindToggles(section);
    const onSubmit = (id, body) => {
      const form = document.getElementById(id);
      if (form) form.addEventListener("submit", (ev) => { ev.preventDefault(); act(section, "PATCH", url, body(form)); });
    };
    onSubmit("model-description-form", (f) => ({ description: f.elements.description.value }));
    onSubmit("alias-form", (f) => {
      const aliases = {};
      aliases[f.elements.alias.value.trim()] = Number(f.elements.version.value);
      return { aliases: aliases };
    });
    section.querySelectorAll("button.remove-alias").forEach((btn) => {
      btn.addEventListener("click", () => act(section, "PATCH", url, { delete_aliases: [btn.dataset.alias] }));
    });
    section.querySelectorAll("form.version-description-form").forEach((form) => {
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        act(section, "PATCH", url + "/versions/" + encodeURIComponent(form.dataset.version),
          { description: form.elements.description.value });
      });
    });
  }

  function init() {
    document.querySelectorAll(".register-model").forEach(bindRegister);
    bindModelPage();
    document.documentElement.dataset.registryReady = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
