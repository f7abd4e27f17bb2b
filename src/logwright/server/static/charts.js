// logwright ui: the metric charts of the run and compare pages (plotly.js), and live updates
// of a running run. The page gives the chart sections in <script id="chart-layout">; every
// string reaches the DOM through textContent.
"use strict";

const PALETTE = ["#2f6fdf", "#e8710a", "#1e8e4f", "#c9372c", "#7b4fd6", "#0f9aa8", "#b7791f", "#d6409f",
  "#5b6b7c", "#8fb339", "#3d4db7", "#a0522d", "#00897b", "#ef6c00", "#6d4c41", "#546e7a", "#c2185b",
  "#7cb342", "#5e35b1", "#f4511e"];
const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
const POLL_MS = 2000;
const CH = { layout: null, runs: [], names: {}, starts: {}, compare: false, charts: [],
  series: new Map(), epochs: new Map(), timer: null };

function sid(run, key) { return run + "\u0000" + key; }

async function fetchJSON(url) {
  const resp = await fetch(url, { headers: { Accept: "application/json" } });
  if (!resp.ok) throw new Error(url + ": " + resp.status);
  return resp.json();
}

function opts() {
  const pick = document.getElementById("x-axis");
  const smooth = document.getElementById("smoothing");
  const logY = document.getElementById("log-y");
  return { x: pick ? pick.value : "step", smooth: smooth ? Number(smooth.value) : 0, log: !!(logY && logY.checked) };
}

// -- epochs: Lightning logs step-level values at the global step (with an `epoch` metric
// in the same call) and epoch-level values at the epoch index; both are placed on one axis.

function epochIndex(e) {
  if (!e || !e.steps.length) return null;
  const starts = new Map(), ends = new Map(), calls = new Set();
  e.steps.forEach((s, i) => {
    const ep = Math.round(e.values[i]);
    if (!starts.has(ep)) starts.set(ep, s);
    ends.set(ep, s);
    calls.add(s + ":" + e.timestamps[i]);
  });
  const maxEpoch = Math.max(...starts.keys());
  const gap = e.steps.length > 1 ? Math.max(1, e.steps[1] - e.steps[0]) : 1;
  return { steps: e.steps, values: e.values.map(Math.round), starts, ends, calls, maxEpoch,
    maxStep: e.steps[e.steps.length - 1], gap };
}

function kindOf(ep, s, key) {
  if (!ep || key === "epoch" || !s.steps.length) return "step";
  if (s.steps.every((st, i) => ep.calls.has(st + ":" + s.timestamps[i]))) return "same";
  if (ep.maxStep > ep.maxEpoch + 1 && Math.max(...s.steps) <= ep.maxEpoch + 1) return "epoch";
  return "step";
}

function epochAt(ep, step) {
  let lo = 0, hi = ep.steps.length - 1, i = -1;
  while (lo <= hi) { const mid = (lo + hi) >> 1; if (ep.steps[mid] <= step) { i = mid; lo = mid + 1; } else hi = mid - 1; }
  if (i < 0) return 0;
  const e = ep.values[i], a = ep.starts.get(e);
  const b = ep.starts.has(e + 1) ? ep.starts.get(e + 1) : ep.ends.get(e) + ep.gap;
  return e + Math.min(0.999, Math.max(0, (step - a) / Math.max(1, b - a)));
}

function epochEndStep(ep, e) {
  if (ep.starts.has(e + 1)) return ep.starts.get(e + 1);
  return ep.ends.has(e) ? ep.ends.get(e) : e;
}

function xValues(run, key, s, mode) {
  const ep = CH.epochs.get(run);
  const kind = kindOf(ep, s, key);
  if (mode === "time") return s.timestamps.map((t) => new Date(t));
  if (mode === "relative") return s.timestamps.map((t) => (t - (CH.starts[run] || s.timestamps[0])) / 1000);
  if (mode === "epoch" && ep) {
    if (kind === "epoch") return s.steps.map((st) => st + 1);  // an epoch's value at the end of that epoch
    return s.steps.map((st) => epochAt(ep, st));
  }
  if (kind === "epoch") return s.steps.map((st) => epochEndStep(ep, st));
  return s.steps;
}

function smoothed(ys, w) {
  let last = 0, n = 0;
  return ys.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    last = last * w + (1 - w) * v; n += 1;
    return last / (1 - Math.pow(w, n));
  });
}

function relativeUnit(traces) {
  let most = 0;
  traces.forEach((t) => t.x.forEach((v) => { if (v > most) most = v; }));
  return most > 7200 ? ["h", 3600] : most > 120 ? ["min", 60] : ["s", 1];
}

function curvesOf(chart, o) {
  const traces = [];
  const pairs = [];
  chart.runs.forEach((run, r) => chart.keys.forEach((key, k) => pairs.push([run, key, CH.compare ? r : k])));
  for (const [run, key, idx] of pairs) {
    const s = (chart.zoom && chart.zoom.get(sid(run, key))) || CH.series.get(sid(run, key));
    if (!s) continue;
    const name = CH.compare ? CH.names[run] : key;
    const colour = PALETTE[idx % PALETTE.length];
    const x = xValues(run, key, s, o.x);
    const mode = s.values.length > 60 ? "lines" : "lines+markers";
    if (o.smooth > 0) {
      traces.push({ x, y: s.values, name, type: "scatter", mode, showlegend: false, hoverinfo: "skip",
        opacity: 0.25, line: { width: 1, color: colour }, marker: { size: 3 }, connectgaps: false, meta: "raw" });
      traces.push({ x, y: smoothed(s.values, o.smooth), name, type: "scatter", mode: "lines",
        line: { width: 1.8, color: colour }, connectgaps: false });
    } else {
      traces.push({ x, y: s.values, name, type: "scatter", mode, line: { width: 1.6, color: colour },
        marker: { size: 4 }, connectgaps: false });
    }
  }
  if (o.x === "relative") {
    const [unit, div] = relativeUnit(traces);
    traces.forEach((t) => { t.x = t.x.map((v) => v / div); });
    return { traces, title: "time since start (" + unit + ")" };
  }
  return { traces, title: { step: "step", epoch: "epoch", time: "" }[o.x] };
}

async function renderChart(chart) {
  const o = opts();
  const { traces, title } = curvesOf(chart, o);
  const legend = !CH.compare && chart.keys.length > 1;
  const layout = {
    margin: { l: 52, r: 12, t: legend ? 26 : 8, b: 34 }, hovermode: "x unified", showlegend: legend,
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 10 } },
    font: { family: "system-ui, sans-serif", size: 11, color: "#3b4653" }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    xaxis: { gridcolor: "#eef0f3", zeroline: false, title: { text: title, standoff: 4 } },
    yaxis: { gridcolor: "#eef0f3", zeroline: false, type: o.log ? "log" : "linear" },
    uirevision: chart.title + o.x + o.log,
  };
  if (chart.range) { layout.xaxis.range = chart.range; layout.xaxis.autorange = false; }
  const ys = traces.flatMap((t) => t.y.filter((v) => v !== null && Number.isFinite(v)));
  if (ys.length && !o.log && ys.every((v) => v === ys[0])) {  // a constant: around it, not on a -1..1 axis
    const pad = Math.abs(ys[0]) * 0.1 || 1;
    layout.yaxis.range = [ys[0] - pad, ys[0] + pad];
  }
  if (!traces.some((t) => t.y.some((v) => v !== null))) {
    layout.annotations = [{ text: "no finite values (NaN or ±inf)", showarrow: false, xref: "paper", yref: "paper",
      x: 0.5, y: 0.5, font: { color: "#66717f", size: 12 } }];
  }
  await Plotly.react(chart.div, traces, layout, PLOT_CONFIG);
  if (!chart.div.dataset.bound) {
    chart.div.dataset.bound = "1";
    chart.div.on("plotly_relayout", (ev) => onZoom(chart, ev));
  }
  chart.div.dataset.ready = "1";
}

function seriesURL(run, key, range, points) {
  let url = "/api/runs/" + encodeURIComponent(run) + "/metric?key=" + encodeURIComponent(key);
  if (range) url += "&start=" + encodeURIComponent(range[0]) + "&end=" + encodeURIComponent(range[1]);
  if (points) url += "&max_points=" + points;
  return url;
}

async function loadKey(runs, key, range) {
  const out = new Map();
  if (CH.compare) {
    let url = "/api/series?runs=" + encodeURIComponent(runs.join(",")) + "&key=" + encodeURIComponent(key);
    if (range) url += "&start=" + encodeURIComponent(range[0]) + "&end=" + encodeURIComponent(range[1]);
    (await fetchJSON(url)).curves.forEach((c) => out.set(sid(c.run_id, key), c));
  } else {
    out.set(sid(runs[0], key), await fetchJSON(seriesURL(runs[0], key, range)));
  }
  return out;
}

async function loadChart(chart) {
  try {
    for (const key of chart.keys) {
      if (chart.runs.every((run) => CH.series.has(sid(run, key)))) continue;
      (await loadKey(chart.runs, key, null)).forEach((s, id) => CH.series.set(id, s));
    }
    await renderChart(chart);
  } catch (err) {
    chart.div.textContent = "could not load chart: " + err.message;
  }
}

async function onZoom(chart, ev) {
  const range = ev["xaxis.range"] || (ev["xaxis.range[0]"] !== undefined ? [ev["xaxis.range[0]"], ev["xaxis.range[1]"]] : null);
  if (opts().x !== "step" || (!range && !ev["xaxis.autorange"])) return;
  if (ev["xaxis.autorange"]) {
    if (!chart.zoom) return;
    chart.zoom = null; chart.range = null;
    await renderChart(chart);
    return;
  }
  const sampled = chart.runs.some((run) => chart.keys.some((key) => (CH.series.get(sid(run, key)) || {}).downsampled));
  if (!sampled) return;
  const zoom = new Map();
  for (const key of chart.keys) {
    const byEpoch = chart.runs.filter((run) => {  // stored by epoch index: a step window does not apply
      const s = CH.series.get(sid(run, key));
      return s && kindOf(CH.epochs.get(run), s, key) === "epoch";
    });
    byEpoch.forEach((run) => zoom.set(sid(run, key), CH.series.get(sid(run, key))));
    if (byEpoch.length < chart.runs.length) {
      (await loadKey(chart.runs, key, range)).forEach((s, id) => { if (!zoom.has(id)) zoom.set(id, s); });
    }
  }
  chart.zoom = zoom; chart.range = range;
  await renderChart(chart);
}

function sectionTitle(name) {
  if (name === "") return "train · val · test";
  return name === "metrics" ? "metrics" : name + "/";
}

function csvLinks(head, run, keys) {
  const links = document.createElement("span");
  links.className = "csv-links";
  keys.forEach((key) => {
    const a = document.createElement("a");
    a.href = "/runs/" + encodeURIComponent(run) + "/metric.csv?key=" + encodeURIComponent(key);
    a.textContent = keys.length > 1 ? "CSV " + key : "CSV";
    links.appendChild(a);
  });
  head.appendChild(links);
}

function buildSections() {
  const root = document.getElementById("chart-sections");
  if (!root) return;
  root.textContent = "";
  CH.charts = [];
  const sections = CH.layout.sections || [];
  const controls = document.getElementById("chart-controls");
  if (controls) controls.hidden = !sections.length;
  sections.forEach((sec) => {
    const h = document.createElement("h3");
    h.className = "chart-section";
    h.textContent = sectionTitle(sec.name);
    const grid = document.createElement("div");
    grid.className = "grid";
    grid.dataset.section = sec.name;
    sec.charts.forEach((c) => {
      const card = document.createElement("div");
      card.className = "chart-card";
      const head = document.createElement("div");
      head.className = "chart-head";
      const title = document.createElement("span");
      title.textContent = c.title;
      head.appendChild(title);
      if (!CH.compare) csvLinks(head, CH.runs[0], c.keys);
      const div = document.createElement("div");
      div.className = "chart " + (CH.compare ? "compare-chart" : "metric-chart");
      div.dataset.key = c.keys[0];
      div.dataset.title = c.title;
      div.dataset.keys = JSON.stringify(c.keys);
      card.append(head, div);
      grid.appendChild(card);
      CH.charts.push({ div, title: c.title, keys: c.keys, runs: CH.runs, zoom: null, range: null });
    });
    root.append(h, grid);
  });
}

async function loadEpochs() {
  if (!CH.layout.epoch) return;
  for (const run of CH.runs) {
    if (CH.epochs.has(run)) continue;
    try { CH.epochs.set(run, epochIndex(await fetchJSON(seriesURL(run, "epoch", null, 20000)))); }
    catch (err) { CH.epochs.set(run, null); }
  }
  const opt = document.getElementById("x-epoch");
  if (opt) opt.hidden = false;
}

async function drawEverything() {
  buildSections();
  await loadEpochs();
  await Promise.all(CH.charts.map(loadChart));
}

function redrawAll() {
  CH.charts.forEach((c) => { c.zoom = null; c.range = null; renderChart(c); });
}

// -- live updates of a running run ------------------------------------------------------

function fmtValue(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v === "Infinity" ? "inf" : v === "-Infinity" ? "-inf" : v;
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3)) return v.toPrecision(4).replace(/\.?0+e/, "e");
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
}

function fmtDuration(ms) {
  if (ms < 1000) return Math.round(ms) + " ms";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return Math.floor(s / 60) + "m " + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  return Math.floor(s / 3600) + "h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
}

function setLatest(latest) {
  const table = document.getElementById("metrics");
  if (!table) return;
  const rows = new Map([...table.querySelectorAll("tr")].map((tr) => [tr.cells[0].textContent, tr]));
  Object.keys(latest).filter((k) => !k.startsWith("system/")).forEach((key) => {
    let tr = rows.get(key);
    if (!tr) {
      tr = table.insertRow(-1);
      tr.insertCell(0).textContent = key;
      tr.insertCell(1).className = "num";
    }
    tr.cells[1].textContent = fmtValue(latest[key]);
  });
}

function setValues(values) {
  const box = document.getElementById("values");
  const panel = document.getElementById("values-panel");
  if (!box || !panel) return;
  box.textContent = "";
  Object.keys(values).forEach((key) => {
    const tile = document.createElement("div");
    tile.className = "value-tile";
    tile.dataset.key = key;
    const k = document.createElement("div"), v = document.createElement("div");
    k.className = "k"; k.textContent = key; v.className = "v"; v.textContent = fmtValue(values[key]);
    tile.append(k, v);
    box.appendChild(tile);
  });
  panel.hidden = !Object.keys(values).length;
}

function merge(id, fresh) {
  const old = CH.series.get(id);
  if (!old) { CH.series.set(id, fresh); return; }
  const last = old.steps.length ? old.steps[old.steps.length - 1] : -Infinity;
  fresh.steps.forEach((st, i) => {
    if (st <= last) return;
    old.steps.push(st); old.values.push(fresh.values[i]); old.timestamps.push(fresh.timestamps[i]);
  });
  old.count = old.steps.length;
}

function sinceQuery(run) {
  const parts = [];
  CH.series.forEach((s, id) => {
    const [r, key] = id.split("\u0000");
    if (r === run && s.steps.length) parts.push("since=" + encodeURIComponent(key + ":" + s.steps[s.steps.length - 1]));
  });
  return parts.join("&");
}

function finish(up) {
  const badge = document.getElementById("run-status");
  if (badge) { badge.textContent = up.status; badge.className = "badge s-" + up.status; }
  const dur = document.getElementById("run-duration");
  if (dur && up.duration_ms !== null) dur.textContent = fmtDuration(up.duration_ms);
  const note = document.getElementById("live-note");
  if (note) note.hidden = true;
  document.body.dataset.live = "done";
}

async function poll() {
  const run = CH.runs[0];
  let up;
  try { up = await fetchJSON("/api/runs/" + encodeURIComponent(run) + "/updates?" + sinceQuery(run)); }
  catch (err) { CH.timer = setTimeout(poll, POLL_MS * 2); return; }
  const charted = new Set(CH.charts.flatMap((c) => c.keys));
  let relayout = false;
  Object.keys(up.metrics).forEach((key) => {
    merge(sid(run, key), up.metrics[key]);
    if (!charted.has(key) && key !== "epoch" && CH.series.get(sid(run, key)).steps.length > 1) relayout = true;
  });
  if (up.metrics.epoch) CH.epochs.set(run, epochIndex(CH.series.get(sid(run, "epoch"))));
  setLatest(up.latest);
  if (relayout || (up.metrics.epoch && !CH.layout.epoch)) {
    const page = await fetchJSON("/api/runs/" + encodeURIComponent(run));
    CH.layout = page.charts;
    setValues(page.values);
    await drawEverything();
  } else {
    CH.charts.filter((c) => c.keys.some((k) => up.metrics[k])).forEach((c) => renderChart(c));
    const values = {};
    document.querySelectorAll("#values .value-tile").forEach((t) => { values[t.dataset.key] = up.latest[t.dataset.key]; });
    Object.keys(up.metrics).filter((k) => !charted.has(k) && k !== "epoch" && !k.startsWith("system/"))
      .forEach((k) => { values[k] = up.latest[k]; });
    setValues(values);
  }
  document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  if (up.done) { finish(up); return; }
  CH.timer = setTimeout(poll, POLL_MS);
}

function startCharts() {
  const block = document.getElementById("chart-layout");
  if (!block || !window.Plotly) return;
  CH.layout = JSON.parse(block.textContent);
  const cmp = document.getElementById("compare-data");
  if (cmp) {
    CH.compare = true;
    JSON.parse(cmp.textContent).runs.forEach((r) => {
      CH.runs.push(r.run_id); CH.names[r.run_id] = r.name || r.run_id.slice(0, 8); CH.starts[r.run_id] = r.start_time;
    });
  } else {
    CH.runs = [CH.layout.run_id];
    CH.starts[CH.layout.run_id] = CH.layout.start_time;
  }
  const pick = document.getElementById("x-axis");
  if (pick) pick.addEventListener("change", redrawAll);
  const smooth = document.getElementById("smoothing");
  if (smooth) smooth.addEventListener("input", () => {
    document.getElementById("smoothing-value").textContent = smooth.value;
    CH.charts.forEach((c) => renderChart(c));
  });
  const logY = document.getElementById("log-y");
  if (logY) logY.addEventListener("change", () => CH.charts.forEach((c) => renderChart(c)));
  drawEverything().then(() => {
    if (!CH.compare && CH.layout.status === "RUNNING") {
      document.body.dataset.live = "polling";
      CH.timer = setTimeout(poll, POLL_MS);
    }
  });
}

document.addEventListener("DOMContentLoaded", startCharts);
