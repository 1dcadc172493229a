// The console: reads /status, /decisions and /report every second, /proposals every few seconds
// (a proposal replays every observation: heavier, and slow to change), and draws them. Read-only.
// DOM nodes are built with textContent (never innerHTML), so nothing from a proxy's metadata or a
// policy can become markup.
"use strict";

const REFRESH_MS = 1000;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

const short = (v) => (v ? v.slice(0, 8) : "-");
const iso = (ms) => (ms === undefined ? "-" : new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z"));

function workloadText(p) {
  const labels = Object.entries(p.workload.labels).map(([k, v]) => `${k}=${v}`).join(",");
  return `${p.workload.namespace}${p.workload.name ? `/${p.workload.name}` : ""}${labels ? ` {${labels}}` : ""}`;
}

// The same words as `picoseg status`.
function stateOf(r) {
  if (r.nack && r.nack.version === r.sent) return "NACKED";
  if (r.acked !== undefined && r.acked === r.current) return "in sync";
  if (r.sent !== undefined && r.sent === r.current) return "pending ACK";
  return r.sent === undefined ? "not sent" : "stale";
}

async function getJson(path) {
  const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}: ${(await r.text()).trim()}`);
  return r.json();
}

function drawStatus(st) {
  document.getElementById("server").textContent =
    `server ${st.controlPlane} · ${st.ready ? "ready" : "NOT ready"} · ${st.policySource} revision ${st.policyRevision} · ` +
    `${st.segments.length} segment(s) · ${st.proxies.length} proxy(ies) · updated ${iso(Date.now())}`;
  const rows = [];
  const notes = [];
  for (const p of st.proxies) {
    const stream = p.streams.map((s) => `${s.service}/${s.protocol}`).join(",") || "-";
    for (const r of p.resources.length ? p.resources : [{ name: "-" }]) {
      const state = r.name === "-" ? "-" : stateOf(r);
      rows.push(
        el("tr", { "data-node": p.nodeId },
          el("td", { class: "mono" }, p.nodeId), el("td", {}, workloadText(p)), el("td", {}, stream),
          el("td", {}, p.segments.join(", ") || "(none)"), el("td", {}, r.name),
          el("td", { class: "mono" }, short(r.current)), el("td", { class: "mono" }, short(r.sent)), el("td", { class: "mono" }, short(r.acked)),
          el("td", { class: `state-${state.replace(/ /g, "-")}` }, state)),
      );
      if (r.nack) notes.push(`${p.nodeId} ${r.name}: NACK of ${short(r.nack.version)} at ${iso(r.nack.at)}: ${r.nack.detail}`);
    }
    for (const w of p.warnings) notes.push(`${p.nodeId}: warning: ${w}`);
    if (p.error) notes.push(`${p.nodeId}: ${p.error}`);
  }
  if (rows.length === 0) rows.push(el("tr", {}, el("td", { colspan: "9" }, "no proxy connected")));
  fill(document.querySelector("#proxies tbody"), rows);
  for (const n of st.policyNotices) notes.push(`policy: ${n.text}`);
  for (const r of st.refusals) notes.push(`refused: ${r.text}`);
  if (st.policySourceStale) notes.push(`policy source STALE: ${st.policySourceStale}`);
  fill(document.getElementById("notes"), notes.map((n) => el("li", {}, n)));

  const bySegment = new Map(st.segments.map((s) => [s, []]));
  for (const p of st.proxies) for (const s of p.segments) (bySegment.get(s) || bySegment.set(s, []).get(s)).push(`${workloadText(p)} (${p.nodeId})`);
  fill(document.querySelector("#segments tbody"), [...bySegment].map(([s, ws]) =>
    el("tr", { "data-segment": s }, el("td", { class: "mono" }, s), el("td", {}, ws.length ? ws.join("; ") : "none connected"))));
}

let chart;
let chartKeys = "";
const COLORS = ["#2a7", "#d33", "#e80", "#36c", "#a3c", "#c63", "#399", "#777", "#b50", "#56a"];

function drawDecisions(d) {
  document.getElementById("decisions-missing").textContent = d.missing;
  fill(document.querySelector("#decisions tbody"), d.proxies.map((p) => {
    const counts = Object.entries(p.counts).sort().map(([k, v]) => `${k} ${v}`).join(", ");
    return el("tr", { "data-node": p.nodeId },
      el("td", { class: "mono" }, p.nodeId), el("td", {}, p.workload), el("td", {}, iso(p.since)),
      el("td", { class: "counts" }, p.error ? `not readable: ${p.error}` : counts || "none yet"));
  }));
  const keys = [...new Set(d.samples.flatMap((s) => Object.keys(s.totals)))].sort();
  const data = [d.samples.map((s) => s.at / 1000), ...keys.map((k) => d.samples.map((s) => s.totals[k] || 0))];
  const box = document.getElementById("chart");
  if (keys.join() !== chartKeys || !chart) {
    // A new reason appeared: a new series, so a new chart.
    if (chart) chart.destroy();
    chartKeys = keys.join();
    chart = new uPlot({
      width: Math.min(1000, Math.max(400, box.clientWidth || 800)),
      height: 260,
      title: "decisions counted by the filters (totals since the server first read each proxy)",
      series: [{}, ...keys.map((k, i) => ({ label: k, stroke: COLORS[i % COLORS.length], width: 2 }))],
      axes: [{}, { label: "connections" }],
    }, data, box);
  } else {
    chart.setData(data);
  }
}

function drawReport(r) {
  const box = document.getElementById("report");
  const f = r.summary.findings;
  const parts = [
    el("p", {}, `${r.summary.workloads} regulated workload(s) · findings: ${f.critical} critical, ${f.high} high, ${f.medium} medium, ${f.low} low`),
    el("p", { class: "note" }, r.disclaimer),
  ];
  for (const w of r.workloads) {
    const findings = el("table", { class: "findings" },
      el("tr", {}, el("th", {}, "severity"), el("th", {}, "finding"), el("th", {}, "requirement")),
      ...w.findings.map((x) => el("tr", {},
        el("td", { class: `sev-${x.severity}` }, x.severity), el("td", {}, x.text),
        el("td", {}, x.requirements.map((q) => `${q.regime === "pci-dss" ? "PCI-DSS" : "HIPAA"} ${q.id}`).join(", ") || "-"))));
    // Replicas share a name; another label set of it (a canary) is told apart by its extra labels.
    const extra = Object.entries(w.labels).filter(([k]) => k !== "app" && k !== "picoseg.io/data-class").map(([k, v]) => `${k}=${v}`);
    parts.push(el("div", { class: "workload", "data-workload": w.workload },
      el("h3", {}, `${w.workload}${extra.length ? ` {${extra.join(",")}}` : ""} `, el("span", { class: `cov cov-${w.coverage}` }, w.coverage)),
      el("p", {}, `data class ${w.dataClass || "-"} · ${w.regimes.join(", ") || "no regime"} · segments: ${w.segments.map((s) => `${s.name} (${s.mode})`).join(", ") || "none"}`),
      el("ul", {}, ...w.rules.map((x) => el("li", {}, el("code", {}, `${x.segment}/${x.rule}`), ` [${x.mode}]: ${x.text}`))),
      w.findings.length ? findings : el("p", {}, "no finding")));
  }
  box.replaceChildren(...parts);
}

// what-if counts: exact, or a range when the aggregates cannot tell.
const countText = (c) => (c ? (c.lo === c.hi ? String(c.lo) : `${c.lo}–${c.hi}`) : "0");

function whatIfTable(w) {
  const p = w.whatIf.proposal;
  const now = w.whatIf.inForce;
  const reasons = [...new Set([...Object.keys(p ? p.byReason : {}), ...Object.keys(now.byReason)])].sort();
  const row = (label, attrs, a, b) => el("tr", attrs, el("th", {}, label), el("td", { class: "proposal" }, a), el("td", { class: "in-force" }, b));
  return el("table", { class: "whatif" },
    el("tr", {}, el("th", {}, ""), el("th", {}, "the proposal"), el("th", {}, `in force now: ${now.segments.join(", ") || "no segment"}`)),
    row("would pass", { "data-row": "clean" }, p ? countText(p.clean) : "-", countText(now.clean)),
    ...reasons.map((r) => row(`would deny: ${r}`, { "data-reason": r }, p ? countText(p.byReason[r]) : "-", countText(now.byReason[r]))));
}

function bySourceList(r) {
  const items = Object.entries(r.bySource).sort(([a], [b]) => (a < b ? -1 : 1)).map(([src, reasons]) =>
    el("li", { "data-source": src }, el("code", {}, src), `: ${Object.entries(reasons).map(([k, c]) => `${k} ${countText(c)}`).join(", ")}`));
  return items.length ? el("ul", { class: "by-source" }, ...items) : el("p", {}, "nothing denied");
}

function drawProposals(r) {
  document.getElementById("proposals-options").textContent =
    `Observations of the last ${r.since}, margin ×${r.margin}, schedule in ${r.timezone} (set them with ?since=&margin=&timezone= on this page's address).`;
  const partial = document.getElementById("proposals-partial");
  const missing = r.peers ? r.peers.missing : [];
  partial.textContent = missing.length ? `Partial data: ${missing.map((m) => `${m.peer} (${m.reason})`).join("; ")}` : "";
  partial.hidden = missing.length === 0;
  const parts = r.workloads.map((w) => {
    const now = w.whatIf.inForce;
    const prop = w.whatIf.proposal;
    return el("div", { class: "workload", "data-workload": w.workload },
      el("h3", {}, w.workload),
      el("p", {}, `${w.connections} connection(s) in ${w.reports} report(s)`),
      w.proposal ? el("pre", { class: "proposal" }, w.proposal) : el("p", { class: "error" }, `no proposal: ${w.error}`),
      w.proposal && w.error ? el("p", { class: "error" }, w.error) : "",
      whatIfTable(w),
      el("h4", {}, "denied by source, the proposal"), prop ? bySourceList(prop) : el("p", {}, "-"),
      el("h4", {}, "denied by source, in force now"), bySourceList(now),
      ...[...new Set([...(prop ? prop.notes : []), ...now.notes])].map((n) => el("p", { class: "note" }, `note: ${n}`)));
  });
  document.getElementById("proposals").replaceChildren(...(parts.length ? parts : [el("p", {}, "no observations in the period: no workload is in learning mode, or none has reported yet")]));
}

const PROPOSALS_EVERY = 5;
let refreshes = 0;

function proposalsPath() {
  const asked = new URLSearchParams(location.search);
  const q = new URLSearchParams();
  for (const k of ["since", "margin", "timezone"]) if (asked.has(k)) q.set(k, asked.get(k));
  return `/proposals${q.size ? `?${q}` : ""}`;
}

async function refresh() {
  const err = document.getElementById("error");
  try {
    const [st, d, r] = await Promise.all([getJson("/status"), getJson("/decisions"), getJson("/report")]);
    drawStatus(st);
    drawDecisions(d);
    drawReport(r);
    if (refreshes++ % PROPOSALS_EVERY === 0) drawProposals(await getJson(proposalsPath()));
    err.hidden = true;
  } catch (e) {
    // Shown on the page, not thrown: a server restart should not leave a broken console behind.
    err.textContent = `cannot refresh: ${e.message}`;
    err.hidden = false;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

refresh();

// Denied attempts, pushed by the server as the filters report them (/decisions/live). The
// browser's EventSource reconnects by itself; the newest rows come first, 100 at most.
const LIVE_ROWS = 100;
function followDenials() {
  const tbody = document.querySelector("#denials-live tbody");
  const feed = new EventSource("/decisions/live");
  feed.addEventListener("denials", (e) => {
    const ev = JSON.parse(e.data);
    const rows = ev.denials.map((d) =>
      el("tr", { "data-workload": ev.workload },
        el("td", {}, iso(ev.to)), el("td", {}, ev.workload), el("td", { class: "mono" }, ev.node),
        el("td", {}, d.reason), el("td", { class: "mono" }, d.source), el("td", {}, d.mode), el("td", {}, d.count)));
    tbody.prepend(...rows);
    while (tbody.rows.length > LIVE_ROWS) tbody.deleteRow(-1);
  });
}
followDenials();

