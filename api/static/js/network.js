// Network overview: totals in the top bar and one row per site (freshness, feed, latency,
// transfer cycle time, risk).
//
// GET /v1/network gives the full picture; site metrics from the stream refresh freshness and
// latency between polls, so a feed going quiet shows within seconds.

import { age, duration, el, ms, num, setAnimated } from "./format.js";

export class NetworkView {
  constructor(root) {
    this.body = root.querySelector("#sites-body");
    this.counts = root.querySelector("#open-alert-counts");
    this.sites = new Map(); // site id -> row data
    // The twin's own time: the newest `as_of` the server sent (ms). Ages are measured on it
    // when it runs ahead of this browser's clock, as the demo's accelerated clock does;
    // otherwise on the browser's clock, which keeps them moving between updates.
    this.twinClock = 0;
  }

  seen(asOf) {
    const at = Date.parse(asOf);
    if (at > this.twinClock) this.twinClock = at;
  }

  now() {
    return Math.max(Date.now(), this.twinClock);
  }

  render(network) {
    this.seen(network.as_of);
    setAnimated(document.getElementById("total-on-hand"), num(network.totals?.on_hand));
    setAnimated(document.getElementById("total-atp"), num(network.totals?.atp));
    setAnimated(document.getElementById("total-in-transit"), num(network.totals?.in_transit));
    setAnimated(document.getElementById("total-skus"), num(network.totals?.skus));
    for (const site of network.sites ?? []) {
      this.sites.set(site.site, { ...this.sites.get(site.site), ...site });
    }
    const open = Object.entries(network.open_alerts ?? {}).filter(([, count]) => count > 0);
    this.counts.textContent = open.length
      ? `Open alerts: ${open.map(([kind, count]) => `${kind} ${count}`).join(" · ")}`
      : "No open alerts.";
    this.draw();
  }

  // A SiteMetric from the stream: fresher latency and freshness than the last poll.
  applyMetric(metric) {
    const site = this.sites.get(metric.site);
    this.seen(metric.as_of);
    if (!site) return; // unknown until the next poll brings its name and feed mode
    site.fresh = metric.fresh;
    if (metric.last_event_at) site.last_event_at = metric.last_event_at;
    if (metric.visible_latency?.count) site.visible_latency_p95_ms = metric.visible_latency.p95_ms;
    // an interval without a received transfer says nothing new: keep the last figure
    if (metric.transfer_cycle_s_p50 != null) site.transfer_cycle_s_p50 = metric.transfer_cycle_s_p50;
    this.draw();
  }

  siteIds() {
    return [...this.sites.keys()];
  }

  draw() {
    const rows = [...this.sites.values()].sort((a, b) => a.site.localeCompare(b.site));
    this.body.replaceChildren(...rows.map((site) => this.row(site)));
  }

  row(site) {
    const fresh = site.fresh !== false;
    const freshness = el(
      "span",
      {
        class: `badge ${fresh ? "badge-fresh" : "badge-stale"}`,
        "data-testid": `site-fresh-${site.site}`,
        title: site.last_event_at ? `last event ${site.last_event_at}` : "no event yet",
      },
      fresh ? "✓ Fresh" : "⚠ Stale feed",
    );
    const risk = site.skus_at_risk ?? 0;
    return el(
      "tr",
      { "data-testid": `site-row-${site.site}` },
      el("th", { scope: "row" }, el("span", {}, site.site), " ", el("span", { class: "muted" }, site.name ?? "")),
      el("td", {}, el("span", { class: "badge badge-mode" }, site.feed_mode ?? "?")),
      el("td", {}, freshness, " ", el("span", { class: "muted" }, age(site.last_event_at, this.now()))),
      el("td", { class: "num", "data-testid": `site-latency-${site.site}` }, ms(site.visible_latency_p95_ms)),
      el("td", { class: "num", "data-testid": `site-transfer-${site.site}` }, duration(site.transfer_cycle_s_p50)),
      el("td", { class: `num ${risk > 0 ? "risk-some" : ""}`, "data-testid": `site-risk-${site.site}` }, num(risk)),
    );
  }
}
