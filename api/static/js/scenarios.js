// The architects' what-if panel: pick or upload a scenario, run it (from the live twin's state
// now, with replications), watch accuracy and staleness stream in over
// WS /v1/scenarios/{id}/stream, then read the report and its plots. Past runs come from
// GET /v1/scenarios (every API replica's, kept across restarts) and can be opened or cancelled.
// The panel exists for architects only: a viewer's page never asks the scenario endpoints.

import { AuthError } from "./api.js";
import { addPoint, clearChart, lineChart } from "./charts.js";
import { el, num } from "./format.js";

const SERIES_MAX = 10_000;
const RUNS_SHOWN = 10;

export class ScenarioPanel {
  constructor(root, api) {
    this.api = api;
    this.root = root;
    this.panel = root.querySelector('[data-testid="scenario-panel"]');
    this.select = root.querySelector("#scenario-name");
    this.mode = root.querySelector("#scenario-mode");
    this.file = root.querySelector("#scenario-file");
    this.status = root.querySelector("#scenario-status");
    this.progress = root.querySelector("#scenario-progress");
    this.report = root.querySelector("#scenario-report");
    this.runs = root.querySelector("#scenario-runs");
    this.library = [];
    this.socket = null;
    this.charts = null;
    // Properties, not listeners: a new sign-in builds a new panel on the same elements.
    root.querySelector("#scenario-form").onsubmit = (event) => {
      event.preventDefault();
      this.run().catch((error) => this.say(error.message));
    };
    this.mode.onchange = () => this.offerScenarios();
    // Charts are built on first open: a canvas in a closed <details> has no size.
    root.querySelector("#scenario-details").ontoggle = () => this.ensureCharts();
  }

  ensureCharts() {
    if (this.charts || !window.Chart) return;
    this.charts = {
      accuracy: lineChart(this.root.querySelector("#accuracy-chart"), { yTitle: "accuracy (%)", xKind: "sim", yMax: 100, pointRadius: 0 }),
      staleness: lineChart(this.root.querySelector("#staleness-chart"), { yTitle: "staleness p95 (s)", xKind: "sim", pointRadius: 0 }),
    };
  }

  // Shown to architects only; the role is asked first, so a viewer's page gets no 403.
  async loadList() {
    this.panel.hidden = true;
    let may = [];
    try {
      may = (await this.api.get("/v1/me")).may ?? [];
    } catch {
      return;
    }
    if (!may.includes("architect")) return;
    this.panel.hidden = false;
    await this.refreshRuns();
  }

  async refreshRuns() {
    const data = await this.api.get("/v1/scenarios");
    this.library = data.library ?? (data.scenarios ?? []).map((name) => ({ name, modes: ["offline", "live"] }));
    this.offerScenarios();
    this.showRuns(data.runs ?? []);
  }

  // Only the scenarios that run in the chosen mode (a live-only one is not offered offline).
  offerScenarios() {
    const mode = this.mode.value;
    const chosen = this.select.value;
    const names = this.library.filter((s) => (s.modes ?? []).includes(mode)).map((s) => s.name);
    this.select.replaceChildren(...names.map((name) => el("option", { value: name }, name)));
    if (names.includes(chosen)) this.select.value = chosen;
    else if (names.includes("baseline")) this.select.value = "baseline"; // the reference run
  }

  showRuns(runs) {
    this.runs.replaceChildren(
      ...runs.slice(0, RUNS_SHOWN).map((run) => {
        const what = `${run.name ?? run.scenario ?? "inline spec"}${run.from_live ? " from live" : ""}` +
          `${run.compare ? ` (${run.compare.join(" vs ")})` : ""}` +
          `${run.replications > 1 ? ` ×${run.replications}` : ""}, seed ${run.seed}`;
        const open = el("button", { type: "button", onclick: () => this.follow(run.id) }, "open");
        const cancel = run.status === "running"
          ? el("button", { type: "button", onclick: () => this.cancel(run.id) }, "cancel")
          : null;
        return el("li", { dataset: { run: run.id, status: run.status } }, `${what} · ${run.status} `, open, cancel);
      }),
    );
  }

  async cancel(id) {
    await this.api.request("DELETE", `/v1/scenarios/${encodeURIComponent(id)}`);
    this.say(`Run ${id}: cancel requested.`);
    await this.refreshRuns();
  }

  say(text) {
    this.status.textContent = text;
  }

  async run() {
    this.ensureCharts();
    const body = {
      mode: this.mode.value,
      seed: Number(this.root.querySelector("#scenario-seed").value || 0),
    };
    const replications = Number(this.root.querySelector("#scenario-replications").value || 1);
    if (replications > 1) body.replications = replications;
    if (this.root.querySelector("#scenario-from-live").checked) body.from = "live";
    // Same start, same seeds: only the faults differ, so the differences are what they cost.
    if (this.root.querySelector("#scenario-compare").checked) {
      body.compare = [{ name: "without faults", faults: [] }, { name: "with its faults" }];
    }
    const upload = this.file.files[0];
    if (upload) body.spec = await upload.text();
    else body.scenario = this.select.value;
    let started;
    try {
      started = await this.api.post("/v1/scenarios", body);
    } catch (error) {
      if (error instanceof AuthError && error.status === 403) {
        this.say("Running scenarios needs an architect token.");
        return;
      }
      throw error;
    }
    const id = started.id ?? started.run_id;
    const origin = body.from === "live" ? ", from the live twin now" : "";
    this.say(`Run ${id} started (${upload ? upload.name : body.scenario}, ${body.mode}, seed ${body.seed}${origin}).`);
    this.follow(id);
    this.refreshRuns().catch(console.warn);
  }

  follow(id) {
    this.ensureCharts();
    this.report.hidden = true;
    this.progress.hidden = false;
    this.progress.value = 0;
    for (const chart of Object.values(this.charts ?? {})) clearChart(chart);
    if (this.socket) this.socket.close(1000, "new run");
    const socket = new WebSocket(this.api.wsUrl(`/v1/scenarios/${encodeURIComponent(id)}/stream`));
    this.socket = socket;
    socket.addEventListener("message", (event) => this.receive(id, JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (event.code === 4401) this.say("The token was refused: sign in again.");
      if (event.code === 4403) this.say("Following scenario runs needs an architect token.");
      if (event.code === 4404) this.say(`Run ${id} is not known to this server.`);
      if (event.code === 1013) this.say(`Cannot follow run ${id} now: ${event.reason || "server busy"}.`);
    });
  }

  receive(id, message) {
    switch (message.type) {
      case "progress":
        this.progress.value = message.pct ?? 0;
        this.say(`Run ${id}: ${Math.round(message.pct ?? 0)} % · ${num(message.events)} events`);
        break;
      case "metrics":
        if (this.charts) {
          // A whole run is kept (a few thousand points at most); x is simulated time.
          addPoint(this.charts.accuracy, "accuracy", message.sim_time_s, 100 * message.accuracy, SERIES_MAX);
          addPoint(this.charts.staleness, "staleness p95", message.sim_time_s, message.staleness_p95_s, SERIES_MAX);
        }
        break;
      case "report":
        this.progress.value = 100;
        this.say(`Run ${id} finished.`);
        this.showReport(id, message.report ?? {}, message.plots ?? {});
        this.refreshRuns().catch(console.warn);
        break;
      case "error":
      case "failed":
      case "cancelled":
      case "interrupted":
        this.say(`Run ${id} ${message.type === "error" ? "failed" : message.type}: ${message.message ?? message.error ?? "unknown error"}`);
        this.progress.hidden = true;
        this.refreshRuns().catch(console.warn);
        break;
      default:
        break;
    }
  }

  showReport(id, report, plots) {
    const figures = this.root.querySelector("#report-figures");
    const rows = report.differences ? comparedFigures(report) : report.figures ? replicatedFigures(report) : reportFigures(report);
    if (report.from_live) rows.unshift(["Opened from the live twin", liveOrigin(report.from_live)]);
    figures.replaceChildren(...rows.map(([label, value]) => el("div", {}, el("dt", {}, label), el("dd", {}, value))));
    const shares = siteShares(report);
    this.root.querySelector("#report-sites").replaceChildren(
      ...shares.map(([site, share]) => el("li", {}, `${site}: ${share}`)),
    );
    if (report.accuracy_band) this.drawBand(report.accuracy_band);
    const box = this.root.querySelector("#report-plots");
    box.replaceChildren();
    for (const [name, path] of Object.entries(plots)) {
      const url = plotUrl(id, name, path);
      const img = el("img", { alt: `${name.replaceAll("_", " ")} plot` });
      box.append(el("figure", {}, img, el("figcaption", { class: "muted" }, name.replaceAll("_", " "))));
      this.api.blobUrl(url).then((blob) => (img.src = blob)).catch(() => (img.alt = `${name}: plot not available`));
    }
    this.report.hidden = false;
  }

  // Replications: accuracy's mean and 95% interval over time, instead of one line.
  drawBand(band) {
    const chart = this.charts?.accuracy;
    if (!chart) return;
    clearChart(chart);
    for (const [i, hours] of (band.hours ?? []).entries()) {
      const x = hours * 3600;
      addPoint(chart, "mean", x, 100 * band.mean[i], SERIES_MAX);
      addPoint(chart, "95% interval low", x, 100 * band.ci95_low[i], SERIES_MAX);
      addPoint(chart, "95% interval high", x, 100 * band.ci95_high[i], SERIES_MAX);
    }
  }
}

function liveOrigin(fork) {
  const offsets = Object.entries(fork.offsets ?? {}).map(([p, o]) => `${p}:${o}`).join(", ");
  return `${num(fork.sku_sites)} SKU-sites of ${fork.topic} at offsets ${offsets}`;
}

// A replicated figure: its mean, 95% interval and worst case over the seeds.
function interval(stats, asPct) {
  if (!stats) return "–";
  const f = (v) => (asPct ? pct(v) : typeof v === "number" ? String(Math.round(v * 100) / 100) : "–");
  const ci = stats.ci95 ? ` [${f(stats.ci95[0])} – ${f(stats.ci95[1])}]` : "";
  return `${f(stats.mean)}${ci}, worst ${f(stats.worst)}`;
}

// A comparison: each figure for both variants side by side, then the difference (second minus
// first, seed by seed) with its 95% interval.
function comparedFigures(report) {
  const [a, b] = report.compare;
  const rows = [["Compared", `${a} vs ${b}: ${report.replications} seeds each, same start and seeds`]];
  for (const [name, diff] of Object.entries(report.differences)) {
    const asPct = name.startsWith("accuracy");
    const mean = (variant) => interval(report.variants[variant]?.figures?.[name], asPct).split(" [")[0].split(",")[0];
    rows.push([name.replaceAll("_", " ").replace(".", ": "), `${a} ${mean(a)} · ${b} ${mean(b)} · difference ${interval(diff, asPct)}`]);
  }
  return rows;
}

function replicatedFigures(report) {
  const rows = [["Replications", `${report.replications} seeds (${report.seeds?.[0]}…), mean [95% interval], worst`]];
  for (const [name, stats] of Object.entries(report.figures)) {
    rows.push([name.replaceAll("_", " ").replace(".", ": "), interval(stats, name.startsWith("accuracy"))]);
  }
  for (const [i, fault] of (report.faults ?? []).entries()) {
    const label = `Recovery: ${fault.kind ?? `fault ${i + 1}`} (${(fault.sites ?? ["all"]).join(",")})`;
    const never = fault.not_recovered ? `, not recovered in ${fault.not_recovered}` : "";
    rows.push([label, `${interval(fault.recovery_s, false)} s${never}`]);
  }
  return rows;
}

// Plots are files on the server; the API serves them under the run (or gives a URL itself).
function plotUrl(id, name, path) {
  if (typeof path === "string" && (path.startsWith("/v1/") || path.startsWith("http"))) return path;
  return `/v1/scenarios/${encodeURIComponent(id)}/plots/${encodeURIComponent(name)}`;
}

function pct(value) {
  return typeof value === "number" ? `${(100 * value).toFixed(1)} %` : "–";
}

function seconds(value) {
  if (typeof value !== "number") return "–";
  if (value >= 5400) return `${(value / 3600).toFixed(1)} h`;
  if (value >= 90) return `${(value / 60).toFixed(1)} min`;
  return `${value.toFixed(1)} s`;
}

function reportFigures(report) {
  const accuracy = report.accuracy ?? {};
  const atpError = report.atp_error ?? {};
  const staleness = Object.entries(report.staleness ?? {}).filter(([, s]) => typeof s?.p95 === "number");
  const worst = staleness.sort((a, b) => b[1].p95 - a[1].p95)[0];
  const figures = [
    ["Final accuracy", pct(accuracy.final)],
    ["Mean accuracy", pct(accuracy.mean)],
    ["Lowest accuracy", pct(accuracy.min)],
    ["Max |ATP error|", num(atpError.max_abs)],
    ["Mean |ATP error|", typeof atpError.mean_abs === "number" ? atpError.mean_abs.toFixed(2) : "–"],
    ["Worst staleness p95", worst ? `${seconds(worst[1].p95)} (${worst[0]})` : "–"],
    ["Over-promises", num(typeof report.over_promises === "number" ? report.over_promises : report.over_promises?.count)],
    ["Lost orders", num(report.orders?.lost)],
    ["Duplicates rejected", num(report.duplicates?.rejected)],
    ["DLQ records", num(report.dlq?.count)],
  ];
  for (const [i, fault] of (report.faults ?? []).entries()) {
    const label = fault.kind ?? fault.type ?? fault.name ?? `fault ${i + 1}`;
    const recovery = fault.recovery_s ?? fault.recovery_time_s ?? fault.recovered_after_s;
    figures.push([`Recovery: ${label}`, typeof recovery === "number" ? seconds(recovery) : "not recovered"]);
  }
  return figures.filter(([, value]) => value !== "–");
}

// Each site's share of all discrepancy, largest first (with its interval when replicated).
function siteShares(report) {
  if (report.differences) return [];
  if (report.figures && report.sites) {
    return Object.entries(report.sites)
      .filter(([, row]) => row.discrepancy_share)
      .sort((a, b) => b[1].discrepancy_share.mean - a[1].discrepancy_share.mean)
      .map(([site, row]) => [site, interval(row.discrepancy_share, true)]);
  }
  const shares = report.discrepancy_share ?? {};
  return Object.entries(shares)
    .map(([site, value]) => [site, typeof value === "number" ? value : (value.share ?? 0)])
    .sort((a, b) => b[1] - a[1])
    .map(([site, share]) => [site, `${(100 * share).toFixed(1)} %`]);
}
