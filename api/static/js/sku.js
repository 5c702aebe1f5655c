// SKU search and the selected SKU's buckets at every site, kept live from the stream.

import { clock, el, num, setAnimated } from "./format.js";
import { HistoryChart } from "./history_chart.js";
import { LedgerPanel } from "./ledger.js";

const BUCKETS = ["on_hand", "receiving", "reserved", "picked", "quarantined", "in_transit", "atp"];
const SEARCH_DELAY_MS = 200;

// Search pages through GET /v1/skus (a cursor per page): the catalogue is never fetched whole.
const PAGE_SIZE = 12;

export class SkuView {
  // onSelect(sku) is called when the operator picks a SKU (the app re-subscribes the stream).
  constructor(root, api, onSelect) {
    this.api = api;
    this.onSelect = onSelect;
    this.input = root.querySelector("#sku-search");
    this.atRisk = root.querySelector("#sku-at-risk");
    this.results = root.querySelector("#sku-results");
    this.more = root.querySelector("#sku-more");
    this.detail = root.querySelector("#sku-detail");
    this.body = root.querySelector("#sku-body");
    this.selected = null;
    this.version = -1;
    this.timer = null;
    this.nextCursor = null;
    // Why a figure is what it is (any cell of the table opens its site's ledger), and how
    // the SKU moved over the retained days.
    this.ledger = new LedgerPanel(this.detail, api);
    this.history = new HistoryChart(this.detail, api);
    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.searchSafely(), SEARCH_DELAY_MS);
    });
    this.atRisk.addEventListener("change", () => this.searchSafely());
    this.more.addEventListener("click", () => this.guarded(this.loadMore()));
    root.querySelector("#sku-search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(this.timer);
      this.searchSafely(true);
    });
  }

  searchSafely(pickExact = false) {
    this.guarded(this.search(pickExact));
  }

  guarded(promise) {
    promise.catch((error) =>
      this.results.replaceChildren(el("li", { class: "error", role: "alert" }, `Search failed: ${error.message}`)),
    );
  }

  // What the results list shows: a newer query makes older answers moot.
  query() {
    return { prefix: this.input.value.trim(), atRisk: this.atRisk.checked };
  }

  sameQuery(a, b) {
    return a.prefix === b.prefix && a.atRisk === b.atRisk;
  }

  pageUrl(query, cursor) {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (query.prefix) params.set("prefix", query.prefix);
    if (query.atRisk) params.set("at_risk", "true");
    if (cursor) params.set("cursor", cursor);
    return `/v1/skus?${params}`;
  }

  async search(pickExact = false) {
    const query = this.query();
    this.showMore(null);
    if (!query.prefix && !query.atRisk) {
      this.results.replaceChildren();
      return;
    }
    const page = await this.api.get(this.pageUrl(query, null));
    if (!this.sameQuery(query, this.query())) return; // a newer search is on its way
    if (pickExact && page.positions.some((position) => position.sku === query.prefix)) {
      this.select(query.prefix);
      return;
    }
    this.results.replaceChildren(...page.positions.map((position) => this.resultItem(position, query)));
    if (!page.positions.length) {
      const what = query.prefix ? `starts with “${query.prefix}”` : "is at risk";
      const extra = query.prefix && query.atRisk ? " and is at risk" : "";
      this.results.replaceChildren(el("li", { class: "hint" }, `No SKU ${what}${extra}.`));
    }
    this.showMore(page.next_cursor);
  }

  async loadMore() {
    const query = this.query();
    const cursor = this.nextCursor;
    if (!cursor) return;
    this.more.disabled = true;
    try {
      const page = await this.api.get(this.pageUrl(query, cursor));
      if (!this.sameQuery(query, this.query()) || cursor !== this.nextCursor) return;
      this.results.append(...page.positions.map((position) => this.resultItem(position, query)));
      this.showMore(page.next_cursor);
    } finally {
      this.more.disabled = false;
    }
  }

  showMore(cursor) {
    this.nextCursor = cursor;
    this.more.hidden = !cursor;
  }

  resultItem(position, query) {
    const attrs = { type: "button", "data-testid": `sku-result-${position.sku}`, onclick: () => this.select(position.sku) };
    let label = position.sku;
    if (query.atRisk) {
      const atps = Object.values(position.sites).map((site) => site.atp);
      attrs.class = "at-risk";
      attrs.title = "ATP at or below the reorder point at some site";
      if (atps.length) label = `${position.sku} · ATP ${num(Math.min(...atps))}`;
    }
    return el("li", {}, el("button", attrs, label));
  }

  async select(sku) {
    this.selected = sku;
    this.version = -1;
    this.body.replaceChildren();
    this.results.replaceChildren();
    this.showMore(null);
    this.onSelect(sku);
    this.ledger.close();
    this.history.show(sku).catch((error) => console.warn(error));
    try {
      this.render(await this.api.get(`/v1/skus/${encodeURIComponent(sku)}`));
    } catch (error) {
      console.warn(error); // not yet known to the twin: the stream brings it when it appears
      document.getElementById("sku-name").textContent = `${sku} (no position yet)`;
      this.detail.hidden = false;
    }
  }

  // A Position from REST or the stream; older versions (a late REST answer) are ignored.
  render(position) {
    if (position.sku !== this.selected || position.version < this.version) return;
    this.version = position.version;
    this.detail.hidden = false;
    document.getElementById("sku-name").textContent = position.sku;
    setAnimated(document.getElementById("sku-version"), String(position.version));
    const asOf = document.getElementById("sku-as-of");
    asOf.dateTime = position.as_of;
    asOf.textContent = clock(position.as_of);
    for (const [site, buckets] of Object.entries(position.sites).sort(([a], [b]) => a.localeCompare(b))) {
      this.renderSite(site, buckets);
    }
    setAnimated(document.getElementById("sku-net-on-hand"), num(position.network.on_hand));
    setAnimated(document.getElementById("sku-net-in-transit"), num(position.network.in_transit));
    setAnimated(document.getElementById("sku-net-atp"), num(position.network.atp));
  }

  renderSite(site, buckets) {
    let row = this.body.querySelector(`tr[data-site="${CSS.escape(site)}"]`);
    if (!row) {
      const why = () => this.ledger.open(this.selected, site);
      row = el(
        "tr",
        { "data-site": site, "data-testid": `sku-row-${site}`, class: "has-ledger", title: "Why these figures? Open the ledger", onclick: why },
        el(
          "th",
          { scope: "row" },
          el("button", { type: "button", class: "link", "data-testid": `sku-ledger-${site}`, "aria-label": `Ledger of ${site}` }, site),
        ),
        ...BUCKETS.map((bucket) => el("td", { class: "num", "data-bucket": bucket, "data-testid": `sku-${bucket}-${site}` })),
        el("td", { "data-bucket": "fresh" }),
      );
      this.body.append(row);
    }
    for (const bucket of BUCKETS) {
      setAnimated(row.querySelector(`[data-bucket="${bucket}"]`), num(buckets[bucket]));
    }
    row.querySelector('[data-bucket="atp"]').classList.toggle("atp-neg", buckets.atp < 0);
    const fresh = row.querySelector('[data-bucket="fresh"]');
    fresh.replaceChildren(
      buckets.fresh === false
        ? el("span", { class: "badge badge-stale", title: "feed overdue: figures are suspect" }, "⚠ stale")
        : el("span", { class: "badge badge-fresh" }, "✓ fresh"),
    );
  }
}
