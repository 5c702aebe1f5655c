// A SKU's ATP and on-hand over the retained days (GET /v1/skus/{sku}/history), with its alerts
// marked (GET /v1/alerts?sku=). A history point holds until the next one of its site, so the
// lines are steps; the network line sums every site's figures that held at each instant.

import { dateTime, el } from "./format.js";

const COLORS = { atp: "#1f77b4", on_hand: "#2ca02c", alert: "#d62728" };

// Network totals at each instant from per-site step points, forward-filled per site.
export function networkSeries(points) {
  const held = new Map();
  const series = [];
  for (const point of points) {
    held.set(point.site, point);
    let atp = 0;
    let onHand = 0;
    for (const p of held.values()) {
      atp += p.atp;
      onHand += p.on_hand;
    }
    const x = Date.parse(point.as_of);
    if (series.length && series[series.length - 1].x === x) series.pop();
    series.push({ x, atp, on_hand: onHand });
  }
  return series;
}

export class HistoryChart {
  constructor(container, api) {
    this.api = api;
    this.root = el("section", { class: "history", "data-testid": "history", hidden: true });
    this.title = el("h3", {}, "History");
    this.note = el("p", { class: "muted" });
    this.canvas = el("canvas", { "data-testid": "history-chart", role: "img", "aria-label": "ATP and on hand over time" });
    this.root.append(this.title, this.note, el("div", { class: "chart-box" }, this.canvas));
    container.append(this.root);
    this.chart = null;
  }

  async show(sku, site = null) {
    this.root.hidden = false;
    this.title.textContent = `${sku}: ATP and on hand over time${site ? ` at ${site}` : " (network)"}`;
    const params = new URLSearchParams();
    if (site) params.set("site", site);
    let points = [];
    try {
      points = (await this.api.get(`/v1/skus/${encodeURIComponent(sku)}/history?${params}`)).points;
    } catch (error) {
      this.note.textContent = `No history: ${error.message}`;
      this.canvas.dataset.points = "0";
      return;
    }
    let alerts = [];
    try {
      alerts = (await this.api.get(`/v1/alerts?sku=${encodeURIComponent(sku)}`)).alerts ?? [];
    } catch (error) {
      console.warn(error);
    }
    if (site) alerts = alerts.filter((a) => !a.site || a.site === site);
    this.draw(points, alerts);
  }

  draw(points, alerts) {
    const series = networkSeries(points);
    const first = series.length ? series[0].x : 0;
    const last = series.length ? series[series.length - 1].x : 0;
    this.note.textContent = series.length
      ? `${series.length} change(s) from ${dateTime(new Date(first).toISOString())} to ${dateTime(new Date(last).toISOString())}; ${alerts.length} alert(s) marked.`
      : "No history retained for this SKU yet.";
    this.canvas.dataset.points = String(series.length);
    this.canvas.dataset.alerts = String(alerts.length);
    window.Chart.getChart(this.canvas)?.destroy();
    if (!series.length) return;
    const atpAt = (x) => {
      let value = series[0].atp;
      for (const p of series) if (p.x <= x) value = p.atp;
      return value;
    };
    const marks = alerts
      .map((a) => ({ x: Date.parse(a.detected_at), y: atpAt(Date.parse(a.detected_at)), label: `${a.kind} ${a.site ?? ""}` }))
      .filter((m) => !Number.isNaN(m.x));
    this.chart = new window.Chart(this.canvas, {
      type: "line",
      data: {
        datasets: [
          { label: "ATP", data: series.map((p) => ({ x: p.x, y: p.atp })), stepped: true, borderColor: COLORS.atp, backgroundColor: COLORS.atp, pointRadius: 0 },
          { label: "on hand", data: series.map((p) => ({ x: p.x, y: p.on_hand })), stepped: true, borderColor: COLORS.on_hand, backgroundColor: COLORS.on_hand, pointRadius: 0 },
          { label: "alerts", type: "scatter", data: marks, borderColor: COLORS.alert, backgroundColor: COLORS.alert, pointRadius: 5, pointStyle: "triangle" },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        scales: {
          x: { type: "linear", ticks: { maxTicksLimit: 6, callback: (v) => dateTime(new Date(v).toISOString()) } },
          y: { title: { display: true, text: "units" } },
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: (ctx) => ctx.raw.label ?? `${ctx.dataset.label}: ${ctx.raw.y}` } },
        },
      },
    });
  }
}
