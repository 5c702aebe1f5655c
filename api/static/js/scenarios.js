// The architects' what-if panel: pick or upload a scenario, run it, watch accuracy and
// staleness stream in over WS /v1/scenarios/{id}/stream, then read the report and its plots.

import { AuthError } from "./api.js";
import { addPoint, clearChart, lineChart } from "./charts.js";
import { el, num } from "./format.js";

// Used when the API has no scenario list endpoint (or the token may not read it).
const SERIES_MAX = 10_000;
const FALLBACK_SCENARIOS = ["baseline", "peak", "3pl-outage", "batch-delay"];

export class ScenarioPanel {
  constructor(root, api) {
    this.api = api;
    this.root = root;
    this.select = root.querySelector("#scenario-name");
    this.file = root.querySelector("#scenario-file");
    this.status = root.querySelector("#scenario-status");
    this.progress = root.querySelector("#scenario-progress");
    this.report = root.querySelector("#scenario-report");
    this.socket = null;
    this.charts = null;
    root.querySelector("#scenario-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.run().catch((error) => this.say(error.message));
    });
    // Charts are built on first open: a canvas in a closed <details> has no size.
    root.querySelector("#scenario-details").addEventListener("toggle", () => this.ensureCharts());
  }

  ensureCharts() {
    if (this.charts || !window.Chart) return;
    this.charts = {
      accuracy: lineChart(this.root.querySelector("#accuracy-chart"), { yTitle: "accuracy (%)", xKind: "sim", yMax: 100, pointRadius: 0 }),
      staleness: lineChart(this.root.querySelector("#staleness-chart"), { yTitle: "staleness p95 (s)", xKind: "sim", pointRadius: 0 }),
    };
  }

  async loadList() {
    let names = FALLBACK_SCENARIOS;
    try {
      const data = await this.api.get("/v1/scenarios");
      const listed = Array.isArray(data) ? data : data.scenarios;
      if (Array.isArray(listed) && listed.length) names = listed.map((s) => (typeof s === "string" ? s : s.name));
    } catch {
      // keep the fallback list
    }
    this.select.replaceChildren(...names.map((name) => el("option", { value: name }, name)));
    if (names.includes("baseline")) this.select.value = "baseline"; // the reference run
  }

  say(text) {
    this.status.textContent = text;
  }

  async run() {
    this.ensureCharts();
    const body = {
      mode: this.root.querySelector("#scenario-mode").value,
      seed: Number(this.root.querySelector("#scenario-seed").value || 0),
    };
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
    this.say(`Run ${id} started (${upload ? upload.name : body.scenario}, ${body.mode}, seed ${body.seed}).`);
    this.report.hidden = true;
    this.progress.hidden = false;
    this.progress.value = 0;
    for (const chart of Object.values(this.charts ?? {})) clearChart(chart);
    this.follow(id);
  }

  follow(id) {
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
        break;
      case "error":
      case "failed":
        this.say(`Run ${id} failed: ${message.message ?? message.error ?? "unknown error"}`);
        this.progress.hidden = true;
        break;
      default:
        break;
    }
  }

  showReport(id, report, plots) {
    const figures = this.root.querySelector("#report-figures");
    figures.replaceChildren(...reportFigures(report).map(([label, value]) => el("div", {}, el("dt", {}, label), el("dd", {}, value))));
    const shares = siteShares(report);
    this.root.querySelector("#report-sites").replaceChildren(
      ...shares.map(([site, share]) => el("li", {}, `${site}: ${(100 * share).toFixed(1)} %`)),
    );
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

function siteShares(report) {
  const shares = report.discrepancy_share ?? report.site_discrepancy_share ?? report.discrepancy_by_site ?? {};
  return Object.entries(shares)
    .map(([site, value]) => [site, typeof value === "number" ? value : (value.share ?? 0)])
    .sort((a, b) => b[1] - a[1]);
}
