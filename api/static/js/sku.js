// SKU search and the selected SKU's buckets at every site, kept live from the stream.

import { clock, el, num, setAnimated } from "./format.js";

const BUCKETS = ["on_hand", "receiving", "reserved", "picked", "quarantined", "in_transit", "atp"];
const SEARCH_DELAY_MS = 200;

export class SkuView {
  // onSelect(sku) is called when the operator picks a SKU (the app re-subscribes the stream).
  constructor(root, api, onSelect) {
    this.api = api;
    this.onSelect = onSelect;
    this.input = root.querySelector("#sku-search");
    this.results = root.querySelector("#sku-results");
    this.detail = root.querySelector("#sku-detail");
    this.body = root.querySelector("#sku-body");
    this.selected = null;
    this.version = -1;
    this.timer = null;
    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.searchSafely(), SEARCH_DELAY_MS);
    });
    root.querySelector("#sku-search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(this.timer);
      this.searchSafely(true);
    });
  }

  searchSafely(pickExact = false) {
    this.search(pickExact).catch((error) =>
      this.results.replaceChildren(el("li", { class: "error", role: "alert" }, `Search failed: ${error.message}`)),
    );
  }

  async search(pickExact = false) {
    const prefix = this.input.value.trim();
    if (!prefix) {
      this.results.replaceChildren();
      return;
    }
    const { skus } = await this.api.get(`/v1/skus?prefix=${encodeURIComponent(prefix)}&limit=12`);
    if (prefix !== this.input.value.trim()) return; // a newer search is on its way
    if (pickExact && skus.includes(prefix)) {
      this.select(prefix);
      return;
    }
    this.results.replaceChildren(
      ...skus.map((sku) =>
        el("li", {}, el("button", { type: "button", "data-testid": `sku-result-${sku}`, onclick: () => this.select(sku) }, sku)),
      ),
    );
    if (!skus.length) this.results.replaceChildren(el("li", { class: "hint" }, `No SKU starts with “${prefix}”.`));
  }

  async select(sku) {
    this.selected = sku;
    this.version = -1;
    this.body.replaceChildren();
    this.results.replaceChildren();
    this.onSelect(sku);
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
      row = el(
        "tr",
        { "data-site": site, "data-testid": `sku-row-${site}` },
        el("th", { scope: "row" }, site),
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
