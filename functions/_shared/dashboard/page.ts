// The status page: one self-contained HTML document (inline CSS, inline SVG drawn by one inline
// script, no third-party request). It holds no data and no credential: the script asks for the
// read-only token (DAYBREAK_METRICS_TOKEN; the service-role key works too) once, keeps it in
// sessionStorage, and reads `<page>/data` with it as a bearer token. Text from the database is set
// with textContent only. Its Content-Security-Policy allows that one script by its hash, no other.

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#0f1115;color:#e6e6e6}
header{padding:12px 20px;background:#181b22;display:flex;gap:16px;align-items:center}
h1{font-size:18px;margin:0} h2{font-size:15px;margin:20px 0 8px} main{padding:0 20px 30px}
table{border-collapse:collapse;margin:4px 0 12px} td,th{padding:3px 10px;border-bottom:1px solid #2a2f3a;text-align:left}
th{color:#9aa4b2;font-weight:600} .num{text-align:right} .bad{color:#ff6b6b} .ok{color:#5fd38d} .warn{color:#f5c04a}
form{margin:40px 20px} input{padding:6px;width:340px} button{padding:6px 12px} .muted{color:#9aa4b2}
.legend span{display:inline-block;margin-right:12px}`;

const COLOURS = `{"ran":"#2e9e5b","forced":"#3b82f6","backfilled":"#8b5cf6","failed":"#e5484d","missed":"#ff2d55",
"running":"#f5c04a","due":"#6b7280","paused":"#374151"}`;

const SCRIPT = `
const COLOURS = ${COLOURS};
const KEY = "daybreak-credential";
const base = location.pathname.replace(/\\/+$/, "");
const $ = (id) => document.getElementById(id);
let timer = null;

function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; }
function table(id, columns, rows) {
  const t = $(id); t.replaceChildren();
  const head = el("tr"); for (const [, h] of columns) head.append(el("th", h)); t.append(head);
  for (const r of rows) { const tr = el("tr"); for (const [k, , f] of columns) { const v = f ? f(r) : r[k]; tr.append(el("td", v ?? "", typeof v === "number" ? "num" : "")); } t.append(tr); }
  if (rows.length === 0) { const tr = el("tr"); const td = el("td", "none", "muted"); td.colSpan = columns.length; tr.append(td); t.append(tr); }
}
function pct(r) { return r.planned ? Math.round(100 * r.results / r.planned) + "%" : ""; }

function calendar(rows) {
  const box = $("calendar"); box.replaceChildren();
  const schedules = [...new Set(rows.map((r) => r.schedule))];
  for (const s of schedules) {
    const days = rows.filter((r) => r.schedule === s).reverse();
    box.append(el("div", s, "muted"));
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("width", String(days.length * 22)); svg.setAttribute("height", "26"); svg.setAttribute("data-schedule", s);
    days.forEach((d, i) => {
      const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      rect.setAttribute("x", String(i * 22)); rect.setAttribute("y", "2"); rect.setAttribute("width", "18"); rect.setAttribute("height", "18"); rect.setAttribute("rx", "3");
      rect.setAttribute("fill", COLOURS[d.outcome] || "#6b7280"); rect.setAttribute("data-run-key", d.run_key); rect.setAttribute("data-outcome", d.outcome);
      if (d.outcome === "missed") { rect.setAttribute("stroke", "#fff"); rect.setAttribute("stroke-width", "2"); }
      const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
      title.textContent = d.run_key + ": " + d.outcome + (d.duration_s != null ? ", " + d.duration_s + " s" : "");
      rect.append(title); svg.append(rect);
    });
    box.append(svg);
  }
  table("calendar-table", [["schedule", "schedule"], ["run_key", "period"], ["outcome", "outcome"], ["duration_s", "duration s"],
    ["winner_source", "winner"], ["turned_away", "turned away"], ["planned", "planned"], ["results", "results"], ["c", "complete", pct], ["note", "note"]], rows);
}

function render(d) {
  $("signin").hidden = true; $("content").hidden = false;
  $("generated").textContent = "as of " + new Date(d.generated_at).toLocaleString();
  calendar(d.calendar);
  const run = d.latest_run;
  $("run").textContent = run ? run.schedule + " " + run.run_key + ": " + run.status + " (" + run.trigger_source + (run.forced ? ", forced" : "") + ")" + (run.live ? " · refreshing every 5 s" : "") : "no run yet";
  table("orgs", [["organization", "organization"], ["planned", "planned"], ["succeeded", "succeeded"], ["failed", "failed"], ["in_flight", "in flight"], ["status", "status"]], d.organizations);
  table("providers", [["provider", "provider"], ["planned", "planned"], ["succeeded", "succeeded"], ["failed", "failed"], ["in_flight", "in flight"],
    ["calls", "calls"], ["rate_limited", "429s"], ["pace", "pace/limit per min", (r) => Math.round(r.paced_rpm || 0) + " / " + (r.limit_rpm ?? "?") + " (" + r.limit_source + ")"],
    ["latency_p50_ms", "p50 ms"], ["latency_p95_ms", "p95 ms"], ["quota_reason", "quota"], ["eta", "ETA", (r) => r.eta ? new Date(r.eta).toLocaleTimeString() : ""]], d.providers);
  table("stuck", [["batch_job_id", "batch job"], ["reason", "reason"], ["organization", "organization"], ["run_key", "period"], ["silent_for_s", "silent s"]], d.stuck);
  table("problems", [["problem", "problem"], ["subject", "subject"], ["detail", "detail"], ["procedure", "fix"]], d.problems);
  $("org-count").textContent = d.org_schedules_total > d.org_schedules.length ? "(" + d.org_schedules.length + " of " + d.org_schedules_total + ", missed first)" : "";
  table("org-schedules", [["organization", "organization"], ["schedule", "schedule"], ["timezone", "time zone"], ["next_run_local", "next run (local)"],
    ["next_run_utc", "next run (UTC)"], ["paused", "paused"], ["missed_30d", "missed"], ["last_30", "last 30 local days (R ran, M missed)"]], d.org_schedules);
  table("cron", [["jobname", "job"], ["schedule", "schedule"], ["active", "active"], ["health", "health"], ["last_status", "last run"], ["last_start", "started"]], d.cron);
  clearTimeout(timer);
  if (run && run.live) timer = setTimeout(load, 5000);
}

// Served by scripts/dashboard (a viewer on the operator's machine that adds the read-only token to
// every /data it forwards): no sign-in, no credential in the browser at all.
const viewer = document.body.dataset.viewer === "1";
async function load() {
  const credential = viewer ? null : sessionStorage.getItem(KEY);
  if (!credential && !viewer) return showSignin("");
  const res = await fetch(base + "/data", { headers: credential ? { authorization: "Bearer " + credential } : {} });
  if (res.status === 401) { sessionStorage.removeItem(KEY); return showSignin("Those credentials were refused."); }
  if (!res.ok) { $("error").textContent = "The dashboard could not read its data (HTTP " + res.status + ")."; return; }
  render(await res.json());
}
function showSignin(message) { $("content").hidden = true; $("signin").hidden = false; $("signin-error").textContent = message; }
$("signin").addEventListener("submit", (e) => { e.preventDefault(); sessionStorage.setItem(KEY, $("credential").value); $("credential").value = ""; load(); });
$("signout").addEventListener("click", () => { sessionStorage.removeItem(KEY); showSignin(""); });
load();
`;

/** The page's one inline script, as the CSP allows it: 'sha256-<base64 of its digest>'. */
let scriptSource: Promise<string> | undefined;
export function pageScriptSource(): Promise<string> {
  scriptSource ??= crypto.subtle.digest("SHA-256", new TextEncoder().encode(SCRIPT)).then((digest) => {
    let binary = "";
    for (const byte of new Uint8Array(digest)) binary += String.fromCharCode(byte);
    return `'sha256-${btoa(binary)}'`;
  });
  return scriptSource;
}

/** The page; `viewer`: served by scripts/dashboard, whose /data needs no credential from the browser. */
export function dashboardPage(options: { viewer?: boolean } = {}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>daybreak</title><style>${STYLE}</style></head>
<body${options.viewer ? ' data-viewer="1"' : ""}><header><h1>daybreak</h1><span id="generated" class="muted"></span><span id="error" class="bad"></span>
<button id="signout" type="button">sign out</button></header>
<form id="signin" hidden><p>Enter the read-only token (DAYBREAK_METRICS_TOKEN). It stays in this tab only.</p>
<input id="credential" type="password" autocomplete="off" aria-label="credential"> <button type="submit">sign in</button>
<p id="signin-error" class="bad"></p></form>
<main id="content" hidden>
<h2>Last 30 periods</h2><div class="legend muted">${Object.entries(JSON.parse(COLOURS) as Record<string, string>)
    .map(([o, colour]) => `<span><b style="color:${colour}">■</b> ${o}</span>`).join("")}</div><div id="calendar"></div><table id="calendar-table"></table>
<h2>Latest run</h2><p id="run"></p><table id="orgs"></table><h2>Providers</h2><table id="providers"></table>
<h2>Stuck batch jobs</h2><table id="stuck"></table><h2>Health problems</h2><table id="problems"></table>
<h2>Organization schedules <span id="org-count" class="muted"></span></h2><table id="org-schedules"></table>
<h2>Cron jobs</h2><table id="cron"></table></main>
<script>${SCRIPT}</script></body></html>`;
}
