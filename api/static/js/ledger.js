// "Why this number": a SKU-site's ledger from GET /v1/skus/{sku}/sites/{site}/ledger. The
// figures before the latest count, the count, every event applied after it, and what the
// retained history leaves unexplained add up, bucket by bucket, to the row's figures.

import { dateTime, el, num } from "./format.js";

const BUCKETS = ["on_hand", "receiving", "reserved", "picked", "quarantined", "in_transit", "atp"];
const LABELS = { on_hand: "on hand", in_transit: "in transit", atp: "ATP" };

function label(bucket) {
  return LABELS[bucket] ?? bucket;
}

function signed(value) {
  if (!value) return "";
  return value > 0 ? `+${num(value)}` : `−${num(-value)}`;
}

export class LedgerPanel {
  constructor(container, api) {
    this.api = api;
    this.root = el("section", { class: "ledger", "data-testid": "ledger", hidden: true, "aria-live": "polite" });
    container.append(this.root);
  }

  close() {
    this.root.hidden = true;
    this.root.replaceChildren();
  }

  async open(sku, site) {
    this.root.hidden = false;
    this.root.replaceChildren(el("p", { class: "hint" }, `Loading the ledger of ${sku} at ${site}…`));
    const path = `/v1/skus/${encodeURIComponent(sku)}/sites/${encodeURIComponent(site)}/ledger`;
    try {
      this.render(await this.api.get(path), path);
    } catch (error) {
      this.root.replaceChildren(
        el("p", { class: "error", role: "alert", "data-testid": "ledger-error" }, `No ledger for ${sku} at ${site}: ${error.message}`),
        this.closeButton(),
      );
    }
  }

  closeButton() {
    return el("button", { type: "button", class: "more", onclick: () => this.close() }, "Close ledger");
  }

  render(ledger, path) {
    const head = el("tr", {}, el("th", { scope: "col" }, "Entry"), el("th", { scope: "col" }, "Source · times"),
      ...BUCKETS.map((b) => el("th", { scope: "col", class: "num" }, label(b))));
    const rows = [this.figuresRow("Before the latest count", ledger.opening, "opening")];
    if (ledger.count) rows.push(this.eventRow(ledger.count, "count"));
    else rows.push(el("tr", { class: "muted" }, el("td", { colspan: String(BUCKETS.length + 2) }, "No count retained: every retained event is listed.")));
    for (const entry of ledger.entries) rows.push(this.eventRow(entry, "entry"));
    if (!ledger.explained) rows.push(this.figuresRow("Carried from history no longer retained", ledger.carried, "carried"));
    rows.push(this.figuresRow("Adds up to", ledger.totals, "total"));
    rows.push(this.figuresRow("Published position (the row)", ledger.position, "position"));
    const version = ledger.version === null ? "no published position yet" : `version ${ledger.version} · as of ${dateTime(ledger.as_of)}`;
    this.root.replaceChildren(
      el("h3", {}, `Ledger of ${ledger.sku} at ${ledger.site}`),
      el("p", { class: "muted" }, version, ledger.explained ? " · every figure explained by its events" : " · older events were pruned: see “carried”"),
      el("div", { class: "table-scroll" }, el("table", { class: "data ledger-table", "data-testid": "ledger-table" }, el("thead", {}, head), el("tbody", {}, ...rows))),
      this.story("Open reservations", "reserved", ledger.open_reservations, "ledger-reservations"),
      this.story("In transit to this site", "in_transit", ledger.in_transit, "ledger-in-transit"),
      ledger.pending.length
        ? el("p", { class: "hint", "data-testid": "ledger-pending" }, `${ledger.pending.length} event(s) logged but not yet in a published position.`)
        : null,
      el("p", {}, el("button", { type: "button", class: "more", "data-testid": "ledger-csv", onclick: () => this.download(path, ledger) }, "Download CSV"), " ", this.closeButton()),
    );
  }

  figuresRow(title, buckets, kind) {
    return el("tr", { class: `ledger-${kind}`, "data-row": kind },
      el("th", { scope: "row", colspan: "2" }, title),
      ...BUCKETS.map((b) => el("td", { class: "num", "data-bucket": b }, num(buckets[b]))));
  }

  eventRow(entry, kind) {
    const times = `occurred ${dateTime(entry.occurred_at)}` +
      (entry.recorded_at ? ` · recorded ${dateTime(entry.recorded_at)}` : "") +
      ` · applied ${dateTime(entry.applied_at)}`;
    const what = `${entry.type} ${num(entry.qty)}` + (entry.to_site ? ` → ${entry.to_site}` : "") + (entry.status === "applied" ? "" : ` (${entry.status})`);
    return el("tr", { class: `ledger-${kind}`, "data-row": kind, "data-event": entry.event_id },
      el("td", {}, el("strong", {}, what), el("br"), el("small", { class: "muted" }, entry.event_id)),
      el("td", {}, `${entry.source} (${entry.feed})`, el("br"), el("small", { class: "muted" }, times)),
      ...BUCKETS.map((b) => el("td", { class: "num", "data-bucket": b }, signed(entry.effect[b]))));
  }

  story(title, bucket, story, testid) {
    if (!story.balance && !story.entries.length) return null;
    const items = story.entries.map((e) => el("li", {}, `${e.type} ${signed(e.effect[bucket])} · ${e.source} · ${dateTime(e.occurred_at)}` + (e.transfer_id ? ` · ${e.transfer_id}` : "") + (e.ref ? ` · ${e.ref}` : "")));
    return el("div", { "data-testid": testid }, el("h4", {}, `${title}: ${num(story.balance)}`), el("ul", {}, ...items));
  }

  async download(path, ledger) {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${this.api.token}`, Accept: "text/csv" } });
    if (!response.ok) return;
    const link = el("a", { href: URL.createObjectURL(await response.blob()), download: `ledger-${ledger.sku}-${ledger.site}.csv` });
    link.click();
    URL.revokeObjectURL(link.href);
  }
}
