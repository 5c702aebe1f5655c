// The alerts panel: alerts as cases (state, assignee, audit trail), filtered and paged by the
// API, with the actions an operator may take; viewers see no action buttons.
//
// A LOW_STOCK (the stock really is short) and a SUSPECTED_SYNC_GAP (the feed went quiet, the
// figure is suspect) call for opposite actions, so they differ in label, colour and border
// style, never in colour alone.
//
// Cases come a page at a time from GET /v1/alerts (no cap: the pager walks every page); case
// changes made on any API replica arrive on WS /v1/alerts/stream, and a new or cleared alert
// on the twin stream refreshes the page. Against an API without the case routes the panel
// falls back to the open alerts of the twin stream.

import { clock, dateTime, el, money, num, prose } from "./format.js";

const KINDS = {
  LOW_STOCK: { family: "shortage", label: "Low stock", hint: "real shortage: act on stock" },
  SUSPECTED_SYNC_GAP: { family: "sync-gap", label: "Suspected sync gap", hint: "feed quiet: check the integration, not the shelf" },
  STALE_FEED: { family: "sync-gap", label: "Stale feed", hint: "no events within the expected interval" },
  OVER_ALLOCATION: { family: "shortage", label: "Over-allocation", hint: "more promised than available" },
  NEGATIVE_ON_HAND: { family: "data", label: "Negative on hand", hint: "movements disagree with stock" },
  COUNT_DISCREPANCY: { family: "data", label: "Count discrepancy", hint: "a count differs from the book figure" },
  ANOMALY: { family: "info", label: "Demand anomaly", hint: "window demand far from its baseline" },
};
const STREAM_FALLBACK_MAX = 300; // only without the case routes: the stream's open alerts
const PAGE_SIZE = 50;
const REFRESH_DEBOUNCE_MS = 1000;
const SNOOZE_MS = 60 * 60 * 1000; // snooze for an hour of the twin's clock
const CASE_RETRY_MS = 3000;

export class AlertsView {
  constructor(root, api = null) {
    this.api = api;
    this.list = root.querySelector("#alerts-list");
    this.empty = root.querySelector("#alerts-empty");
    this.count = root.querySelector("#alert-count");
    this.filter = root.querySelector("#alert-filter");
    this.alerts = new Map(); // stream fallback: id -> open alert
    this.cases = false; // true once the API answered GET /v1/alerts
    this.canAct = false;
    this.page = { items: [], next: null, total: 0, asOf: null, you: null };
    this.cursors = [null]; // the cursor of each page walked so far (pages go back too)
    this.refreshTimer = null;
    this.openTrails = new Set(); // ids whose audit trail the user opened
    this.socket = null;
    this.stopped = false;
    for (const [kind, meta] of Object.entries(KINDS)) {
      this.filter.append(el("option", { value: kind }, meta.label));
    }
    this.controls = this.buildControls(root);
    this.filter.addEventListener("change", () => this.filtersChanged());
  }

  buildControls(root) {
    const select = (testid, label, options) =>
      el("label", { class: "inline" }, label,
        el("select", { "data-testid": testid }, ...options.map(([value, text]) => el("option", { value }, text))));
    const state = select("case-state-filter", "Case ", [["open", "open"], ["acknowledged", "acknowledged"], ["snoozed", "snoozed"], ["resolved", "resolved"], ["all", "all"]]);
    const who = select("case-who-filter", "Who ", [["", "anyone"], ["mine", "mine"], ["unassigned", "unassigned"]]);
    const severity = select("case-severity-filter", "Severity ", [["", "any"], ["critical", "critical"], ["warning", "warning"], ["info", "info"]]);
    const site = el("input", { "data-testid": "case-site-filter", placeholder: "site", size: 8 });
    const prev = el("button", { type: "button", "data-testid": "alerts-prev", onclick: () => this.turn(-1) }, "‹ Previous");
    const next = el("button", { type: "button", "data-testid": "alerts-next", onclick: () => this.turn(+1) }, "Next ›");
    const where = el("span", { class: "muted", "data-testid": "alerts-page" });
    const bar = el("div", { class: "case-filters", hidden: true }, state, who, severity, el("label", { class: "inline" }, "Site ", site));
    const pager = el("div", { class: "case-pager", hidden: true }, prev, where, next);
    this.list.before(bar);
    this.list.after(pager);
    for (const control of [state, who, severity].map((label) => label.querySelector("select"))) {
      control.addEventListener("change", () => this.filtersChanged());
    }
    site.addEventListener("change", () => this.filtersChanged());
    return { bar, pager, state: state.querySelector("select"), who: who.querySelector("select"), severity: severity.querySelector("select"), site, prev, next, where };
  }

  // Asks the role (operators act), then the first page, then follows case changes.
  async start() {
    if (!this.api) return;
    this.stopped = false;
    try {
      this.canAct = ((await this.api.get("/v1/me")).may ?? []).includes("operator");
    } catch {
      this.canAct = false;
    }
    try {
      await this.load();
    } catch (error) {
      console.warn("alert cases unavailable, showing the stream's open alerts", error);
      return;
    }
    this.cases = true;
    this.controls.bar.hidden = false;
    this.controls.pager.hidden = false;
    this.follow();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.refreshTimer);
    if (this.socket) this.socket.close(1000, "client closed");
    this.socket = null;
  }

  // WS /v1/alerts/stream: a case acted on anywhere updates its row here (or the page).
  follow() {
    if (this.stopped) return;
    const socket = new WebSocket(this.api.wsUrl("/v1/alerts/stream"));
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "case") this.caseChanged(message.item);
    });
    socket.addEventListener("open", () => this.scheduleRefresh()); // what changed while away
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket || this.stopped || event.code === 4401 || event.code === 4403) return;
      setTimeout(() => this.follow(), CASE_RETRY_MS);
    });
  }

  caseChanged(item) {
    const index = this.page.items.findIndex((shown) => shown.id === item.id);
    if (index >= 0 && this.keeps(item)) {
      this.page.items[index] = item;
      this.draw();
    } else {
      this.scheduleRefresh(); // it joins or leaves this filter: the page itself changes
    }
  }

  keeps(item) {
    const { state, who } = this.query();
    if (state !== "all" && item.case.state !== state) return false;
    if (who.mine && item.case.assignee !== this.page.you) return false;
    if (who.unassigned && item.case.assignee) return false;
    return true;
  }

  query() {
    const who = this.controls.who.value;
    return {
      state: this.controls.state.value,
      who: { mine: who === "mine", unassigned: who === "unassigned" },
      kind: this.filter.value,
      severity: this.controls.severity.value,
      site: this.controls.site.value.trim(),
    };
  }

  async load() {
    const { state, who, kind, severity, site } = this.query();
    const params = new URLSearchParams({ state, limit: String(PAGE_SIZE) });
    if (who.mine) params.set("mine", "true");
    if (who.unassigned) params.set("unassigned", "true");
    if (kind) params.set("kind", kind);
    if (severity) params.set("severity", severity);
    if (site) params.set("site", site);
    const cursor = this.cursors[this.cursors.length - 1];
    if (cursor) params.set("cursor", cursor);
    const data = await this.api.get(`/v1/alerts?${params}`);
    this.page = { items: data.alerts ?? [], next: data.next_cursor, total: data.total ?? 0, asOf: data.as_of, you: data.you };
    this.draw();
  }

  filtersChanged() {
    this.cursors = [null];
    if (this.cases) this.refresh();
    else this.draw();
  }

  turn(step) {
    if (step > 0 && this.page.next) this.cursors.push(this.page.next);
    else if (step < 0 && this.cursors.length > 1) this.cursors.pop();
    else return;
    this.refresh();
  }

  refresh() {
    this.load().catch((error) => console.warn("alerts refresh failed", error));
  }

  scheduleRefresh() {
    if (!this.cases || this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.refresh();
    }, REFRESH_DEBOUNCE_MS);
  }

  replaceAll(alerts) {
    this.alerts.clear();
    this.apply(alerts);
  }

  // From the twin stream: with cases, a new or cleared alert refreshes the page; without,
  // raised alerts are kept (the newest few hundred) and a cleared one leaves the list.
  apply(alerts) {
    if (this.cases) {
      this.scheduleRefresh();
      return;
    }
    for (const alert of alerts) {
      if (alert.state === "cleared") this.alerts.delete(alert.id);
      else this.alerts.set(alert.id, alert);
    }
    if (this.alerts.size > STREAM_FALLBACK_MAX) {
      const oldest = [...this.alerts.values()].sort(byDetected).slice(STREAM_FALLBACK_MAX);
      for (const alert of oldest) this.alerts.delete(alert.id);
    }
    this.draw();
  }

  draw() {
    if (!this.cases) {
      const kind = this.filter.value;
      const shown = [...this.alerts.values()].filter((a) => !kind || a.kind === kind).sort(byDetected);
      this.list.replaceChildren(...shown.map((alert) => renderAlert(alert, null)));
      this.count.textContent = String(this.alerts.size);
      this.empty.hidden = shown.length > 0;
      return;
    }
    const { items, total, next } = this.page;
    this.list.replaceChildren(...items.map((item) => renderAlert(item, this)));
    this.count.textContent = num(total);
    this.empty.hidden = items.length > 0;
    this.empty.textContent = "No alerts match these filters.";
    const first = (this.cursors.length - 1) * PAGE_SIZE;
    this.controls.where.textContent = total ? `${num(first + 1)}–${num(first + items.length)} of ${num(total)}` : "";
    this.controls.prev.disabled = this.cursors.length <= 1;
    this.controls.next.disabled = !next;
  }

  // POST /v1/alerts/{id}/actions; the answer (the case with its trail) replaces the row.
  async act(item, action, extra = {}) {
    try {
      const updated = await this.api.post(`/v1/alerts/${encodeURIComponent(item.id)}/actions`, { action, ...extra });
      this.caseChanged(updated);
    } catch (error) {
      window.alert(`Could not ${action} the case: ${error.message}`);
    }
  }

  // The audit trail of a case: who did what, when (GET /v1/alerts/{id}).
  async showTrail(alertId, into) {
    const data = await this.api.get(`/v1/alerts/${encodeURIComponent(alertId)}`);
    into.replaceChildren(
      ...(data.case?.trail ?? []).map((entry) =>
        el("li", {}, `${dateTime(entry.at)} · ${entry.who} · ${entry.action}`,
          entry.assignee ? ` → ${entry.assignee}` : "",
          entry.until ? ` until ${dateTime(entry.until)}` : "",
          entry.comment ? el("q", {}, entry.comment) : null)),
    );
  }

  snoozeUntil() {
    const now = Date.parse(this.page.asOf ?? "") || Date.now();
    return new Date(now + SNOOZE_MS).toISOString();
  }
}

function byDetected(a, b) {
  return Date.parse(b.detected_at) - Date.parse(a.detected_at);
}

const STATE_LABELS = { open: "Open", acknowledged: "Acknowledged", snoozed: "Snoozed", resolved: "Resolved" };

// One alert; with the panel (`view`) its case, and the actions when the caller may act.
function renderAlert(alert, view) {
  const meta = KINDS[alert.kind] ?? { family: "info", label: alert.kind, hint: "" };
  const where = [alert.sku, alert.site].filter(Boolean).join(" @ ");
  const item = alert.case ?? null;
  return el(
    "li",
    {
      class: `alert kind-${meta.family}`,
      "data-testid": "alert-item",
      "data-alert-id": alert.id,
      "data-kind": alert.kind,
      "data-sku": alert.sku ?? "",
      "data-site": alert.site ?? "",
      "data-case-state": item?.state ?? "",
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
    el("p", { "data-testid": "alert-explanation" }, prose(alert.explanation)),
    alert.value_at_risk !== null && alert.value_at_risk !== undefined
      ? el("p", { "data-testid": "alert-value" }, el("strong", {}, "Value at risk: "), money(alert.value_at_risk))
      : null,
    alert.recommendation ? renderRecommendation(alert.recommendation) : null,
    item && view ? renderCase(alert, item, view) : null,
  );
}

function renderCase(alert, item, view) {
  const snoozed = item.state === "snoozed" && item.snoozed_until ? ` until ${dateTime(item.snoozed_until)}` : "";
  const summary = el(
    "p",
    { class: "case" },
    el("span", { class: `badge case-${item.state}`, "data-testid": "case-state" }, (STATE_LABELS[item.state] ?? item.state) + snoozed),
    " ",
    el("span", { "data-testid": "case-assignee" }, item.assignee ? `assigned to ${item.assignee}` : "unassigned"),
    alert.condition === "cleared" ? el("span", { class: "muted" }, " · condition cleared") : null,
  );
  const trail = el("ol", { class: "case-trail", "data-testid": "case-trail" });
  const history = el(
    "details",
    {
      open: view.openTrails.has(alert.id), // a redraw keeps an opened trail open
      ontoggle: (event) => {
        if (event.target.open) {
          view.openTrails.add(alert.id);
          view.showTrail(alert.id, trail).catch((error) => console.warn("trail failed", error));
        } else {
          view.openTrails.delete(alert.id);
        }
      },
    },
    el("summary", {}, `History (${item.version} action${item.version === 1 ? "" : "s"})`),
    trail,
  );
  return el("div", { class: "case-box" }, summary, item.version ? history : null, view.canAct ? renderActions(alert, item, view) : null);
}

// The buttons an operator may use in this state (the API checks again and says why not).
function renderActions(alert, item, actor) {
  const note = el("input", { "data-testid": "case-input", placeholder: "name or comment", size: 16 });
  const text = () => note.value.trim();
  const button = (action, label, body) =>
    el("button", { type: "button", "data-testid": `case-${action}`, onclick: () => actor.act(alert, action, body()) }, label);
  const withComment = () => (text() ? { comment: text() } : {});
  const open = item.state !== "resolved";
  return el(
    "div",
    { class: "case-actions" },
    note,
    item.state === "open" || item.state === "snoozed" ? button("acknowledge", "Acknowledge", withComment) : null,
    open ? button("assign", "Assign", () => ({ assignee: text() || actor.page.you })) : null,
    button("comment", "Comment", () => ({ comment: text() })),
    open ? button("snooze", "Snooze 1 h", () => ({ until: actor.snoozeUntil(), ...withComment() })) : null,
    open ? button("resolve", "Resolve", withComment) : null,
    item.state !== "open" ? button("reopen", "Reopen", withComment) : null,
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
