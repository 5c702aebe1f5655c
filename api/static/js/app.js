// Composition root of the dashboard: sign-in, the views, and the two live streams.
//
// Three streams, each with its own filter so that none hides data another needs: all alerts,
// the per-site metrics, and the positions of the selected SKU.

import { ApiClient, AuthError } from "./api.js";
import { AlertsView } from "./alerts.js";
import { addPoint, lineChart } from "./charts.js";
import { NetworkView, TwinClock } from "./network.js";
import { ScenarioPanel } from "./scenarios.js";
import { SkuView } from "./sku.js";
import { StreamClient } from "./stream.js";

const TOKEN_KEY = "invtwin.token";
const NETWORK_POLL_MS = 5000;
const CLOCK_TICK_MS = 1000; // the stated clock and the rows' ages move between updates

class Dashboard {
  constructor(api) {
    this.api = api;
    const root = document.getElementById("dashboard");
    this.clock = new TwinClock();
    this.network = new NetworkView(root, this.clock);
    this.alerts = new AlertsView(root, api);
    this.sku = new SkuView(root, api, (sku) => this.follow(sku));
    this.scenarios = new ScenarioPanel(root, api);
    this.latencyChart = window.Chart
      ? lineChart(root.querySelector("#latency-chart"), { yTitle: "p95 latency (log scale)", yKind: "seconds-log" })
      : null;
    this.pollTimer = null;
    this.clockTimer = null;
    this.positions = null;
    const onAuthError = () => signOut("Your token was refused by the live stream.");
    // Every alert in the network; the pill shows this stream's state.
    this.alertFeed = new StreamClient(api, { skus: null, sites: null, channels: ["alerts"] }, {
      onSnapshot: (message) => this.alerts.replaceAll(message.alerts ?? []),
      onDelta: (message) => message.alerts?.length && this.alerts.apply(message.alerts),
      onStatus: (state) => showStatus(state),
      onAuthError,
    });
    // Per-site metrics only: an empty SKU list filters out the per-SKU window metrics,
    // which would otherwise flood the page on a busy network.
    this.siteFeed = new StreamClient(api, { skus: [], sites: null, channels: ["metrics"] }, {
      onSnapshot: (message) => (message.sites ?? []).forEach((metric) => this.metric(metric)),
      onDelta: (message) => (message.metrics ?? []).forEach((metric) => this.metric(metric)),
      onAuthError,
    });
  }

  async start() {
    await this.refreshNetwork();
    this.showClock();
    this.pollTimer = setInterval(() => this.refreshNetwork().catch(console.warn), NETWORK_POLL_MS);
    this.clockTimer = setInterval(() => this.showClock(), CLOCK_TICK_MS);
    this.alertFeed.start();
    this.alerts.start();
    this.siteFeed.start();
    this.scenarios.loadList();
  }

  stop() {
    clearInterval(this.pollTimer);
    clearInterval(this.clockTimer);
    this.alertFeed.stop();
    this.alerts.stop();
    this.siteFeed.stop();
    this.positions?.stop();
  }

  async refreshNetwork() {
    this.network.render(await this.api.get("/v1/network"));
  }

  // States which clock the page's times are on, and moves the ages with it.
  showClock() {
    const note = document.getElementById("page-clock");
    note.textContent = this.clock.describe();
    note.dataset.clock = this.clock.simulated ? "simulated" : "wall";
    if (this.latencyChart) {
      const title = this.latencyChart.options.scales.x.title;
      const text = this.clock.simulated ? "simulated time" : "time";
      if (title.text !== text) {
        Object.assign(title, { display: true, text });
        this.latencyChart.update("none");
      }
    }
    this.network.draw();
  }

  metric(metric) {
    // Only per-site metrics drive the overview; per-SKU window metrics are for analytics.
    if (metric.type && metric.type !== "site") return;
    if (!metric.site) return;
    this.network.applyMetric(metric);
    if (this.latencyChart && metric.visible_latency?.count) {
      // seconds on a log axis; a figure under a millisecond is drawn at 1 ms (log has no 0)
      const x = Date.parse(metric.as_of) / 1000 || this.clock.now() / 1000;
      addPoint(this.latencyChart, metric.site, x, Math.max(metric.visible_latency.p95_ms / 1000, 0.001));
    }
  }

  follow(sku) {
    const subscription = { skus: [sku], sites: null, channels: ["positions"] };
    const render = (positions) => {
      for (const position of positions ?? []) this.sku.render(position);
    };
    if (this.positions) {
      this.positions.resubscribe(subscription);
      return;
    }
    const detail = document.getElementById("sku-detail");
    this.positions = new StreamClient(this.api, subscription, {
      onSnapshot: (message) => {
        render(message.positions);
        // Counts (re)subscriptions served: lets tests wait for a reconnect to complete.
        detail.dataset.snapshots = String(Number(detail.dataset.snapshots ?? 0) + 1);
      },
      onDelta: (message) => render(message.positions),
      onAuthError: () => signOut("Your token was refused by the live stream."),
    });
    this.positions.start();
  }
}

let dashboard = null;

function showStatus(state) {
  const pill = document.getElementById("conn-status");
  pill.textContent = state;
  pill.className = `pill ${state === "live" ? "pill-on" : state === "offline" ? "pill-off" : "pill-wait"}`;
}

async function signIn(token) {
  const api = new ApiClient(token);
  await api.get("/v1/network"); // throws AuthError for a bad token
  sessionStorage.setItem(TOKEN_KEY, token);
  document.getElementById("sign-in").hidden = true;
  document.getElementById("dashboard").hidden = false;
  document.getElementById("sign-out").hidden = false;
  dashboard = new Dashboard(api);
  await dashboard.start();
}

function signOut(message = "") {
  dashboard?.stop();
  dashboard = null;
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById("dashboard").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("sign-in").hidden = false;
  document.getElementById("sign-in-error").textContent = message;
  showStatus("offline");
}

function signInError(error) {
  if (error instanceof AuthError) {
    return error.status === 401 ? "That token is not valid." : "That token may not read the dashboard (viewer role needed).";
  }
  return `Cannot reach the twin API: ${error.message}`;
}

function main() {
  const form = document.getElementById("sign-in-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = document.getElementById("token-input").value.trim();
    document.getElementById("sign-in-error").textContent = "";
    try {
      await signIn(token);
    } catch (error) {
      signOut(signInError(error));
    }
  });
  document.getElementById("sign-out").addEventListener("click", () => signOut());
  // A token in the URL fragment (#token=…) signs in directly: the demo prints such a link.
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) history.replaceState(null, "", location.pathname);
  const saved = fromHash ?? sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved).catch((error) => signOut(signInError(error)));
}

main();
