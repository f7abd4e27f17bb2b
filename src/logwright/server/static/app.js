// logwright ui: parallel coordinates (plotly.js), the runs table (nested-run toggles, run
// selection, remembered columns, column search), span selection. Metric charts: charts.js.
// No inline scripts anywhere: the page's data arrives in data-* attributes or in
// <script type="application/json"> blocks, and every string goes in through textContent.
"use strict";

const COLOURS = ["#2f6fdf", "#e8710a", "#1e8e4f", "#c9372c", "#7b4fd6", "#0f9aa8", "#b7791f", "#d6409f",
  "#5b6b7c", "#8fb339", "#3d4db7", "#a0522d", "#00897b", "#ef6c00", "#6d4c41", "#546e7a", "#c2185b",
  "#7cb342", "#5e35b1", "#f4511e"];
const FONT = { family: "system-ui, sans-serif", size: 11, color: "#3b4653" };
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

// Parallel coordinates drawn as ordinary SVG line traces (plotly's parcoords needs WebGL,
// which headless and remote browsers often lack): each axis is normalized to 0..1.
function axisScale(axis) {
  const nums = axis.values.filter((v) => typeof v === "number");
  const lo = Math.min(...nums), hi = Math.max(...nums);
  const norm = (v) => (typeof v !== "number" ? null : hi > lo ? (v - lo) / (hi - lo) : 0.5);
  let labels;
  if (axis.ticktext) {
    labels = axis.ticktext.map((t, i) => ({ y: norm(i), text: t }));
  } else if (nums.length) {
    labels = hi > lo ? [{ y: 0, text: fmt(lo) }, { y: 1, text: fmt(hi) }] : [{ y: 0.5, text: fmt(lo) }];
  } else {
    labels = [];
  }
  return { norm: norm, labels: labels };
}

function fmt(v) {
  return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

function viridis(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [190, 210, 40]];
  if (t === null || Number.isNaN(t)) return "#9aa5b1";
  const x = Math.min(0.9999, Math.max(0, t)) * (stops.length - 1), i = Math.floor(x), f = x - i;
  const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * f));
  return "rgb(" + c.join(",") + ")";
}

function drawParcoords() {
  const div = document.getElementById("parcoords");
  const block = document.getElementById("compare-data");
  if (!div || !block) return;
  const pc = JSON.parse(block.textContent).parallel;
  if (!pc.axes.length) { div.textContent = "Nothing to plot."; return; }
  const scales = pc.axes.map(axisScale);
  const target = pc.axes.findIndex((a) => a.metric);
  const xs = pc.axes.map((_, i) => i);
  const traces = pc.run_names.map((name, r) => {
    const colour = target >= 0 ? viridis(scales[target].norm(pc.axes[target].values[r])) : COLOURS[r % COLOURS.length];
    return { type: "scatter", mode: "lines+markers", name: name, x: xs,
      y: pc.axes.map((a, i) => scales[i].norm(a.values[r])),
      customdata: pc.axes.map((a) => (a.ticktext ? a.ticktext[a.values[r]] : a.values[r])),
      hovertemplate: name + "<br>%{customdata}<extra></extra>",
      line: { color: colour, width: 2 }, marker: { size: 6, color: colour } };
  });
  const shapes = xs.map((x) => ({ type: "line", x0: x, x1: x, y0: 0, y1: 1, line: { color: "#9aa5b1", width: 1 } }));
  const notes = [];
  scales.forEach((s, i) => s.labels.forEach((l) => notes.push({ x: i, y: l.y, text: l.text, showarrow: false,
    xanchor: "right", xshift: -4, font: { size: 10, color: "#66717f" }, bgcolor: "rgba(255,255,255,.85)" })));
  const layout = { margin: { l: 60, r: 40, t: 40, b: 16 }, showlegend: false, hovermode: "closest",
    font: FONT, paper_bgcolor: "#fff", plot_bgcolor: "#fff", shapes: shapes, annotations: notes,
    xaxis: { tickvals: xs, ticktext: pc.axes.map((a) => a.label), side: "top", showgrid: false, zeroline: false,
      range: [-0.4, xs.length - 0.6] },
    yaxis: { visible: false, range: [-0.05, 1.05] } };
  Plotly.react(div, traces, layout, CONFIG).then(() => { div.dataset.ready = "1"; });
}

function colourSwatches() {
  document.querySelectorAll(".swatch[data-index]").forEach((s) => {
    s.style.background = COLOURS[Number(s.dataset.index) % COLOURS.length];
  });
}

function bindRunsTable() {
  document.querySelectorAll("button.expand").forEach((btn) => {
    const rows = () => document.querySelectorAll('tr.child[data-parent="' + CSS.escape(btn.dataset.toggle) + '"]');
    const show = (open) => {
      btn.dataset.open = open ? "1" : "";
      btn.textContent = (open ? "▾ " : "▸ ") + btn.textContent.slice(2);
      rows().forEach((tr) => tr.classList.toggle("hidden", !open));
    };
    const first = rows()[0];
    if (first && !first.classList.contains("hidden")) show(true);
    btn.addEventListener("click", () => show(btn.dataset.open !== "1"));
  });
  const form = document.getElementById("compare-form");
  const button = document.getElementById("compare-button");
  if (!form || !button) return;
  const update = () => {
    const n = form.querySelectorAll('input[name="runs"]:checked').length;
    button.disabled = n < 2 || n > 20;
    document.getElementById("selected-count").textContent = n ? n + " selected (2 to 20)" : "";
  };
  form.addEventListener("change", update);
  update();
}

// The runs table's columns and sort are remembered per experiment: a visit without any
// query parameters is sent to the last view's columns and sort; "Default columns" forgets.
function rememberColumns() {
  const table = document.getElementById("runs");
  if (!table || !table.dataset.experiment) return false;
  const store = "logwright.runs." + table.dataset.experiment;
  const params = new URLSearchParams(location.search);
  try {
    if (params.get("cols") === "default") {
      if (params.get("order")) localStorage.setItem(store, "order=" + encodeURIComponent(params.get("order")));
      else localStorage.removeItem(store);
      return false;
    }
    if (!location.search) {
      const saved = localStorage.getItem(store);
      if (saved) { location.replace(location.pathname + "?" + saved); return true; }
      return false;
    }
    const keep = new URLSearchParams();
    ["m", "p"].forEach((name) => params.getAll(name).forEach((v) => keep.append(name, v)));
    const old = new URLSearchParams(localStorage.getItem(store) || "");
    const hasColumns = params.has("m") || params.has("p");
    if (!hasColumns) ["m", "p"].forEach((name) => old.getAll(name).forEach((v) => keep.append(name, v)));
    const order = params.get("order") || old.get("order");
    if (order) keep.set("order", order);
    if ([...keep.keys()].length) localStorage.setItem(store, keep.toString());
  } catch (err) { /* storage disabled: the URL still carries the view */ }
  return false;
}

function bindColumnSearch() {
  const box = document.getElementById("column-search");
  if (!box) return;
  box.addEventListener("keydown", (ev) => { if (ev.key === "Enter") ev.preventDefault(); });
  box.addEventListener("input", () => {
    const text = box.value.toLowerCase();
    document.querySelectorAll("#columns-form label").forEach((label) => {
      label.hidden = !!text && !label.textContent.toLowerCase().includes(text);
    });
  });
}

function bindSpans() {
  document.querySelectorAll("tr.span-row").forEach((row) => {
    row.addEventListener("click", () => {
      document.querySelectorAll("tr.span-row.selected").forEach((r) => r.classList.remove("selected"));
      row.classList.add("selected");
      document.querySelectorAll(".span-detail").forEach((d) => d.classList.toggle("shown", d.dataset.span === row.dataset.span));
    });
  });
}

function bindDiffToggle() {
  const box = document.getElementById("only-diff");
  if (!box) return;
  box.addEventListener("change", () => {
    document.querySelectorAll("table.diff tr.same").forEach((tr) => { tr.style.display = box.checked ? "none" : ""; });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  if (rememberColumns()) return;
  bindRunsTable();
  bindColumnSearch();
  bindSpans();
  bindDiffToggle();
  colourSwatches();
  if (window.Plotly) drawParcoords();
});
