"""The live chart page, and the few lines of Locust's "Rate limits" tab that link to it and show
how each test ended, with a link to its report.

Self-contained on purpose: inline style and script, an SVG drawn from ``live.json``, nothing
loaded from anywhere else (the page's Content-Security-Policy forbids it), so it works on a host
without internet and leaks nothing.  The plotted values stay in the DOM (``data-*`` attributes),
which is what the browser test reads.
"""

from __future__ import annotations

# Content-Security-Policy of the chart page: its own inline code, JSON from Locust, nothing else.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'"
)

# Content-Security-Policy of a served report.html: no script, inline style, figures as data URIs.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)

# Locust's extended tabs hold tables of text, so a link cannot be a cell: this script, added to
# Locust's page, shows one while the "Rate limits" tab is open (the tab is in the URL's query),
# and above it a panel of the tests this process ran (tests.json, polled while the tab is open):
# each one's status, once it stopped its outcome, the verdict's summary, its exit code and a
# link to its report.  Text goes in as text, never as HTML.
TAB_SCRIPT = r"""(function () {
  "use strict";
  var TAB = "rate-limits";
  var COLORS = {pass: "#2e7d32", fail: "#c62828", inconclusive: "#ef6c00"};
  var STATUS = {running: "running\u2026",
                judging: "stopped: writing its verdict and report\u2026"};
  var panel = document.createElement("div");
  panel.id = "mmload-outcome";
  panel.setAttribute("role", "status");
  panel.style.cssText = "position:fixed;right:24px;bottom:104px;z-index:1300;display:none;" +
    "max-width:min(640px,60vw);max-height:40vh;overflow:auto;padding:10px 14px;" +
    "border-radius:4px;background:#fff;color:#222;" +
    "font:14px/1.45 Roboto,Helvetica,Arial,sans-serif;box-shadow:0 2px 8px rgba(0,0,0,.35)";
  document.body.appendChild(panel);
  var tests = [], polled = 0;

  function add(parent, name, text, css) {
    var node = document.createElement(name);
    if (text !== undefined) node.textContent = text;
    if (css) node.style.cssText = css;
    parent.appendChild(node);
    return node;
  }

  function render() {
    panel.replaceChildren();
    tests.forEach(function (t) {
      var row = add(panel, "div", undefined, "margin:4px 0");
      row.className = "mmload-test";
      row.dataset.test = t.test;
      row.dataset.status = t.status;
      row.dataset.outcome = t.outcome || "";
      var done = t.status === "done";
      var head = done ? t.outcome.toUpperCase() + " (exit " + t.exit_code + ")"
                      : (STATUS[t.status] || t.status);
      add(row, "strong", "Test " + t.test + ": " + head,
          "color:" + (done ? COLORS[t.outcome] || "#555" : "#555"));
      if (t.summary) add(row, "div", t.summary, "margin-left:12px");
      if (t.impaired) add(row, "div", "Impaired: " + t.impaired, "margin-left:12px");
      var where = add(row, "div", "Run folder " + t.path,
                      "margin-left:12px;color:#666;font-size:12px");
      if (t.report) {
        where.appendChild(document.createTextNode(" \u2014 "));
        var a = add(where, "a", "report.html \u2192", "color:#1565c0");
        a.className = "mmload-report";
        a.href = t.report;
        a.target = "_blank";
        a.rel = "noopener";
      }
    });
  }

  function poll() {
    polled = Date.now();
    fetch("./mmload/tests.json", {cache: "no-store", credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (found) { tests = found; render(); update(); })
      .catch(function () {});
  }

  var link = document.createElement("a");
  link.id = "mmload-chart-link";
  link.href = "./mmload/";
  link.textContent = "Live chart: accepted and limited per second against the documented " +
    "limit \u2192";
  link.style.cssText = "position:fixed;right:24px;bottom:56px;z-index:1300;display:none;" +
    "padding:10px 16px;border-radius:4px;background:#1565c0;color:#fff;text-decoration:none;" +
    "font:500 14px Roboto,Helvetica,Arial,sans-serif;box-shadow:0 2px 8px rgba(0,0,0,.35)";
  document.body.appendChild(link);
  function update() {
    var open = new URLSearchParams(window.location.search).get("tab") === TAB;
    link.style.display = open ? "block" : "none";
    panel.style.display = open && tests.length ? "block" : "none";
    if (open && Date.now() - polled > 2000) poll();
  }
  update();
  window.setInterval(update, 250);
})();
"""

CHART_PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mmload: rate limits, live</title>
<style>
  body { font: 14px/1.45 system-ui, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
         margin: 16px 24px; color: #222; background: #fafafa; }
  h1 { font-size: 20px; margin: 8px 0 4px; }
  nav a { margin-right: 14px; }
  #summary { margin: 6px 0 10px; max-width: 1000px; }
  #status { color: #666; font-size: 12px; }
  label { margin-right: 18px; }
  svg { background: #fff; border: 1px solid #ddd; display: block; margin-top: 8px; }
  svg text { font-size: 12px; fill: #333; }
  .grid { stroke: #eee; }
  .axis { stroke: #999; }
  .note { color: #555; font-size: 12px; max-width: 1000px; }
</style>
</head>
<body>
<nav><a href="../?tab=rate-limits">&larr; Locust: the Rate limits tab</a>
<a href="live.csv">CSV</a><a href="live.json">JSON</a></nav>
<h1>Rate limits, live</h1>
<div id="summary">Waiting for the first settled second&hellip;</div>
<label>Rate-limit key <select id="key"></select></label>
<label>Scale <select id="scale">
  <option value="auto">auto</option><option value="linear">linear</option>
  <option value="log">log</option></select></label>
<span id="status"></span>
<svg id="chart" width="980" height="440" role="img"
     aria-label="Accepted and limited requests per second against the documented limit"></svg>
<p class="note">Per second the requests were sent in (a step per second), for one rate-limit
key, up to the last second whose answers are all in (about two seconds ago). The enforced rate
is an estimate for the key, all its endpoints together: the median of the requests accepted per
second over recent seconds that had refusals, while the limiter was saturated. The verdict at the
end of the run measures it properly.</p>
<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const W = 980, H = 440, M = {left: 72, right: 230, top: 20, bottom: 52};
const COLORS = {accepted: "#2e7d32", limited: "#c62828", documented: "#1565c0",
                enforced: "#ef6c00"};
const chart = document.getElementById("chart");
const keySelect = document.getElementById("key");
const scaleSelect = document.getElementById("scale");
let latest = null;

function el(name, attrs, parent, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  parent.appendChild(node);
  return node;
}

function fmt(v, digits) {
  return v === null || v === undefined ? "\u2014" : Number(v).toFixed(digits);
}

function niceStep(span) {
  const raw = span / 5, power = Math.pow(10, Math.floor(Math.log10(raw)));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

function yScale(top, log) {
  const h = H - M.top - M.bottom;
  if (log) {
    const max = Math.max(2, Math.ceil(Math.log10(top)));
    const ticks = [];
    for (let p = 0; p <= max; p++) ticks.push(Math.pow(10, p));
    return {ticks, y: v => M.top + h * (1 - Math.log10(Math.max(v, 1)) / max)};
  }
  const step = niceStep(top), max = Math.ceil(top / step) * step;
  const ticks = [];
  for (let v = 0; v <= max + step / 2; v += step) ticks.push(v);
  return {ticks, y: v => M.top + h * (1 - v / max)};
}

function pickKey(view) {
  const keys = view.keys.map(k => k.key);
  const chosen = keys.includes(keySelect.value) ? keySelect.value : keys[0];
  if (keySelect.options.length !== keys.length ||
      keys.some((k, i) => keySelect.options[i].value !== k)) {
    keySelect.replaceChildren(...keys.map(k => new Option(k || "(none)", k)));
  }
  keySelect.value = chosen;
  return view.keys.find(k => k.key === chosen);
}

function summarize(view, series) {
  const rows = view.rows.filter(r => r.key === series.key);
  const row = rows.find(r => r.endpoint === "(all endpoints)") || rows[0];
  const doc = view.documented;
  document.getElementById("summary").textContent =
    `Key ${series.key || "(none)"}: offered ${fmt(row.offered, 1)}/s, accepted ` +
    `${fmt(row.accepted, 1)}/s, ${view.limited_label} ${fmt(row.limited, 1)}/s over the last ` +
    `${view.window} s. Enforced \u2248 ${fmt(series.enforced, 1)}/s (an estimate, from ` +
    `${row.saturated} seconds with refusals) against the documented ${doc.text}.`;
}

function axes(x, ys, x0, x1, log) {
  const grid = el("g", {id: "axes"}, chart);
  for (const v of ys.ticks) {
    const y = ys.y(v);
    el("line", {class: "grid", x1: M.left, x2: W - M.right, y1: y, y2: y}, grid);
    el("text", {x: M.left - 8, y: y + 4, "text-anchor": "end"}, grid, String(v));
  }
  const step = niceStep(Math.max(x1 - x0, 5));
  for (let t = Math.ceil(x0 / step) * step; t <= x1; t += step) {
    el("text", {x: x(t), y: H - M.bottom + 18, "text-anchor": "middle"}, grid, String(t));
  }
  el("line", {class: "axis", x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom},
     grid);
  el("line", {class: "axis", x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom}, grid);
  el("text", {x: (M.left + W - M.right) / 2, y: H - 12, "text-anchor": "middle"}, grid,
     "seconds since the first request");
  el("text", {x: 16, y: (M.top + H - M.bottom) / 2, "text-anchor": "middle",
              transform: `rotate(-90 16 ${(M.top + H - M.bottom) / 2})`}, grid,
     "requests per second" + (log ? " (log scale)" : ""));
}

// how each kind of line is drawn, in the chart and its legend: the limits are a pale band and a
// thin dashed line, so that accepted/s, drawn last and widest, stays visible where it runs
// along them (as it does on a conforming server)
const STYLES = {
  band: {"stroke-width": 9, "stroke-opacity": 0.2},
  dashed: {"stroke-width": 1.5, "stroke-dasharray": "7 5"},
  limited: {"stroke-width": 2},
  accepted: {"stroke-width": 3},
};

function legend(entries) {
  const g = el("g", {id: "legend"}, chart);
  entries.forEach(([color, label, style], i) => {
    const y = M.top + 14 + i * 24, x = W - M.right + 16;
    el("line", {x1: x, x2: x + 26, y1: y, y2: y, stroke: color, ...STYLES[style]}, g);
    el("text", {x: x + 34, y: y + 4}, g, label);
  });
}

function hline(id, value, color, style, ys) {
  const y = ys.y(value);
  el("line", {id, x1: M.left, x2: W - M.right, y1: y, y2: y, stroke: color, ...STYLES[style],
              "data-value": value}, chart);
}

// per-second counts as steps: second t's value held from t to t + 1
function steps(values, x0, x, ys) {
  const points = [];
  values.forEach((v, i) => {
    const y = ys.y(v).toFixed(1);
    points.push(`${x(x0 + i).toFixed(1)},${y}`, `${x(x0 + i + 1).toFixed(1)},${y}`);
  });
  return points.join(" ");
}

function draw(view) {
  chart.replaceChildren();
  const series = view.keys.length ? pickKey(view) : null;
  if (!series || !series.accepted.length) return;
  summarize(view, series);
  const doc = view.documented.per_sec, n = series.accepted.length;
  const x0 = series.start - view.first, x1 = Math.max(x0 + n, x0 + 5);
  const x = t => M.left + (W - M.left - M.right) * (t - x0) / (x1 - x0);
  const top = Math.max(doc * 1.25, series.enforced || 0, ...series.accepted, ...series.limited);
  const log = scaleSelect.value === "log" || (scaleSelect.value === "auto" && top > 20 * doc);
  const ys = yScale(top, log);
  axes(x, ys, x0, x1, log);
  // the limit lines first, under the series; accepted last, on top of everything
  hline("documented-line", doc, COLORS.documented, "band", ys);
  const entries = [[COLORS.accepted, "accepted/s", "accepted"],
                   [COLORS.limited, `limited (${view.limited_status.join(", ")})/s`, "limited"],
                   [COLORS.documented, `documented ${view.documented.text}`, "band"]];
  if (series.enforced !== null) {
    hline("enforced-line", series.enforced, COLORS.enforced, "dashed", ys);
    entries.push([COLORS.enforced, `enforced \u2248 ${fmt(series.enforced, 1)}/s (estimate)`,
                  "dashed"]);
  }
  for (const name of ["limited", "accepted"]) {
    const values = series[name], points = steps(values, x0, x, ys);
    if (name === "accepted") {  // a white edge sets it apart from the lines it runs along
      el("polyline", {points, fill: "none", stroke: "#fff", "stroke-width": 6,
                      "stroke-linejoin": "round"}, chart);
    }
    el("polyline", {id: `series-${name}`, points, fill: "none", stroke: COLORS[name],
                    ...STYLES[name], "stroke-linejoin": "round",
                    "data-points": values.length, "data-max": Math.max(...values),
                    "data-last": values[values.length - 1]}, chart);
  }
  legend(entries);
  chart.dataset.settled = view.settled;
}

async function poll() {
  try {
    const response = await fetch("live.json", {cache: "no-store"});
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    latest = await response.json();
    draw(latest);
    document.getElementById("status").textContent =
      "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    document.getElementById("status").textContent = "cannot reach Locust: " + err.message;
  }
  window.setTimeout(poll, 1000);
}
keySelect.addEventListener("change", () => latest && draw(latest));
scaleSelect.addEventListener("change", () => latest && draw(latest));
poll();
</script>
</body>
</html>
"""
