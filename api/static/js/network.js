// Network overview: totals in the top bar and one row per site (freshness, feed, latency,
// transfer cycle time, risk).
//
// GET /v1/network gives the full picture; site metrics from the stream refresh freshness and
// latency between polls, so a feed going quiet shows within seconds. A figure is never made
// up: an interval without events has no latency (the API sends null, not 0), so a row keeps
// the newest real figure with the time of its interval, or says "no data".

import { age, clock, duration, el, ms, num, setAnimated } from "./format.js";

const LATENCY_WHAT = "95th percentile of event-to-visible latency (event occurred → shown by the twin)";
const CYCLE_WHAT = "Median shipped-to-received time of the transfers received at this site (event time)";

// The twin's clock as this page shows it: the API's `as_of` and how fast its clock runs
// (the demo's is simulated, 600x the wall clock), ticking between updates. Every "ago",
// latency and alert time on the page is on this one clock.
export class TwinClock {
  constructor() {
    this.simulated = false;
    this.speed = 1;
    this.anchor = 0; // twin time (ms) …
    this.anchorWall = 0; // … read at this browser time (ms)
  }

  // Settings from GET /v1/network: is the twin's clock simulated, and at what speed.
  configure(settings) {
    if (!settings) return;
    this.simulated = Boolean(settings.simulated);
    this.speed = settings.speed > 0 ? settings.speed : 1;
  }

  // A time the twin sent: the clock never runs behind what the twin has already dated.
  seen(iso) {
    const at = Date.parse(iso);
    if (Number.isFinite(at) && at > this.now()) {
      this.anchor = at;
      this.anchorWall = Date.now();
    }
  }

  now() {
    if (!this.anchor) return Date.now();
    return this.anchor + (Date.now() - this.anchorWall) * this.speed;
  }

  describe() {
    if (!this.simulated) return "Times: the wall clock";
    return `Simulated clock ${clock(new Date(this.now()).toISOString())} · ${this.speed.toLocaleString()}× the wall clock; every time and age on this page is simulated`;
  }
}

export class NetworkView {
  constructor(root, twinClock = new TwinClock()) {
    this.body = root.querySelector("#sites-body");
    this.counts = root.querySelector("#open-alert-counts");
    this.sites = new Map(); // site id -> row data
    this.clock = twinClock;
  }

  render(network) {
    this.clock.configure(network.clock);
    this.clock.seen(network.as_of);
    setAnimated(document.getElementById("total-on-hand"), num(network.totals?.on_hand));
    setAnimated(document.getElementById("total-atp"), num(network.totals?.atp));
    setAnimated(document.getElementById("total-in-transit"), num(network.totals?.in_transit));
    setAnimated(document.getElementById("total-skus"), num(network.totals?.skus));
    for (const polled of network.sites ?? []) {
      const site = this.sites.get(polled.site) ?? { site: polled.site };
      site.name = polled.name;
      site.feed_mode = polled.feed_mode;
      site.fresh = polled.fresh;
      site.skus_at_risk = polled.skus_at_risk;
      if (newer(polled.last_event_at, site.last_event_at)) site.last_event_at = polled.last_event_at;
      // A poll's null means "none in the last interval": it never erases a real figure.
      keepNewest(site, "latency", polled.last_visible_latency_p95 ?? current(polled.visible_latency_p95_ms, network.as_of));
      keepNewest(site, "cycle", polled.last_transfer_cycle_s_p50 ?? current(polled.transfer_cycle_s_p50, network.as_of));
      this.sites.set(polled.site, site);
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
    this.clock.seen(metric.as_of);
    if (!site) return; // unknown until the next poll brings its name and feed mode
    if (newer(metric.as_of, site.reportAt)) {
      site.reportAt = metric.as_of;
      site.fresh = metric.fresh;
    }
    if (newer(metric.last_event_at, site.last_event_at)) site.last_event_at = metric.last_event_at;
    if (metric.visible_latency?.count) {
      keepNewest(site, "latency", { value: metric.visible_latency.p95_ms, as_of: metric.as_of });
    }
    if (metric.transfer_cycle_s_p50 != null) {
      keepNewest(site, "cycle", { value: metric.transfer_cycle_s_p50, as_of: metric.as_of });
    }
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
    const lastEvent = site.last_event_at
      ? `last event ${age(site.last_event_at, this.clock.now())}`
      : "no events yet";
    const freshness = el(
      "span",
      {
        class: `badge ${fresh ? "badge-fresh" : "badge-stale"}`,
        "data-testid": `site-fresh-${site.site}`,
        title: fresh
          ? "Data arrived from this feed within its expected interval (master data)"
          : "Nothing arrived from this feed within its expected interval: its figures may miss movements",
      },
      fresh ? "✓ Fresh" : "⚠ Stale feed",
    );
    const risk = site.skus_at_risk ?? 0;
    return el(
      "tr",
      { "data-testid": `site-row-${site.site}` },
      el("th", { scope: "row" }, el("span", {}, site.site), " ", el("span", { class: "muted" }, site.name ?? "")),
      el("td", {}, el("span", { class: "badge badge-mode" }, site.feed_mode ?? "?")),
      el(
        "td",
        {},
        freshness,
        " ",
        el("span", { class: "muted", title: site.last_event_at ? `occurred ${clock(site.last_event_at)}` : null }, lastEvent),
      ),
      this.figure(site, "latency", ms, LATENCY_WHAT, `site-latency-${site.site}`),
      this.figure(site, "cycle", duration, CYCLE_WHAT, `site-transfer-${site.site}`),
      el("td", { class: `num ${risk > 0 ? "risk-some" : ""}`, "data-testid": `site-risk-${site.site}` }, num(risk)),
    );
  }

  // A figure cell: the newest real figure, marked as older when the site's latest interval
  // had none; "no data" with what the figure is when there never was one.
  figure(site, key, format, what, testId) {
    const figure = site[key];
    if (!figure) {
      return el("td", { class: "num no-data", "data-testid": testId, title: `${what}. No data yet: no interval has had one.` }, "no data");
    }
    const older = site.reportAt && newer(site.reportAt, figure.as_of);
    const when = `interval ending ${clock(figure.as_of)}${this.clock.simulated ? " (simulated)" : ""}`;
    const title = older ? `${what}, from the ${when}; none in the intervals since.` : `${what}, over the ${when}.`;
    return el("td", { class: `num${older ? " muted" : ""}`, "data-testid": testId, title }, format(figure.value));
  }
}

function newer(iso, than) {
  if (!iso) return false;
  return !than || Date.parse(iso) > Date.parse(than);
}

// A figure of the last interval from an API that does not send the last real one.
function current(value, asOf) {
  return value == null ? null : { value, as_of: asOf };
}

function keepNewest(site, key, figure) {
  if (!figure || figure.value == null) return;
  const current = site[key];
  if (!current || Date.parse(figure.as_of) >= Date.parse(current.as_of)) site[key] = figure;
}
