// The alerts feed: open alerts newest first, each with its explanation and recommendation.
//
// A LOW_STOCK (the stock really is short) and a SUSPECTED_SYNC_GAP (the feed went quiet, the
// figure is suspect) call for opposite actions, so they differ in label, colour and border
// style, never in colour alone.

import { clock, el, num } from "./format.js";

const KINDS = {
  LOW_STOCK: { family: "shortage", label: "Low stock", hint: "real shortage: act on stock" },
  SUSPECTED_SYNC_GAP: { family: "sync-gap", label: "Suspected sync gap", hint: "feed quiet: check the integration, not the shelf" },
  STALE_FEED: { family: "sync-gap", label: "Stale feed", hint: "no events within the expected interval" },
  OVER_ALLOCATION: { family: "shortage", label: "Over-allocation", hint: "more promised than available" },
  NEGATIVE_ON_HAND: { family: "data", label: "Negative on hand", hint: "movements disagree with stock" },
  COUNT_DISCREPANCY: { family: "data", label: "Count discrepancy", hint: "a count differs from the book figure" },
  ANOMALY: { family: "info", label: "Demand anomaly", hint: "window demand far from its baseline" },
};
const MAX_ALERTS = 300;

export class AlertsView {
  constructor(root) {
    this.list = root.querySelector("#alerts-list");
    this.empty = root.querySelector("#alerts-empty");
    this.count = root.querySelector("#alert-count");
    this.filter = root.querySelector("#alert-filter");
    this.alerts = new Map(); // id -> alert (open ones only)
    for (const [kind, meta] of Object.entries(KINDS)) {
      this.filter.append(el("option", { value: kind }, meta.label));
    }
    this.filter.addEventListener("change", () => this.draw());
  }

  replaceAll(alerts) {
    this.alerts.clear();
    this.apply(alerts);
  }

  // Raised alerts are added (or updated); a cleared one leaves the open list.
  apply(alerts) {
    for (const alert of alerts) {
      if (alert.state === "cleared") this.alerts.delete(alert.id);
      else this.alerts.set(alert.id, alert);
    }
    if (this.alerts.size > MAX_ALERTS) {
      const oldest = [...this.alerts.values()].sort(byDetected).slice(MAX_ALERTS);
      for (const alert of oldest) this.alerts.delete(alert.id);
    }
    this.draw();
  }

  draw() {
    const kind = this.filter.value;
    const shown = [...this.alerts.values()].filter((a) => !kind || a.kind === kind).sort(byDetected);
    this.list.replaceChildren(...shown.map(renderAlert));
    this.count.textContent = String(this.alerts.size);
    this.empty.hidden = shown.length > 0;
  }
}

function byDetected(a, b) {
  return Date.parse(b.detected_at) - Date.parse(a.detected_at);
}

function renderAlert(alert) {
  const meta = KINDS[alert.kind] ?? { family: "info", label: alert.kind, hint: "" };
  const where = [alert.sku, alert.site].filter(Boolean).join(" @ ");
  return el(
    "li",
    {
      class: `alert kind-${meta.family}`,
      "data-testid": "alert-item",
      "data-kind": alert.kind,
      "data-sku": alert.sku ?? "",
      "data-site": alert.site ?? "",
    },
    el(
      "header",
      {},
      el("span", { class: "badge kind", "data-testid": "alert-kind", title: meta.hint }, meta.label),
      el("span", { class: `sev sev-${alert.severity}` }, alert.severity),
      el("span", { class: "where" }, where),
      el("time", { datetime: alert.detected_at }, clock(alert.detected_at)),
    ),
    el("p", { class: "muted" }, meta.hint),
    el("p", { "data-testid": "alert-explanation" }, alert.explanation),
    alert.recommendation ? renderRecommendation(alert.recommendation) : null,
  );
}

function renderRecommendation(reco) {
  const arrival = reco.expected_arrival ? `, arriving ${new Date(reco.expected_arrival).toLocaleString()}` : "";
  const what =
    reco.action === "transfer"
      ? `Transfer ${num(reco.qty)} from ${reco.from_site} to ${reco.to_site}${arrival}`
      : `Purchase ${num(reco.qty)} for ${reco.to_site}`;
  const value = ` (value ${num(reco.value)})`;
  return el(
    "p",
    { class: "reco", "data-testid": "alert-recommendation" },
    el("strong", {}, "Recommendation: "),
    what + value,
    reco.needs_approval ? el("strong", {}, " — needs approval") : null,
    reco.reason ? el("span", { class: "muted" }, ` ${reco.reason}`) : null,
  );
}
