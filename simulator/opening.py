"""A run's opening from the live twin: its buckets become truth, what is in progress goes on.

The twin's buckets per SKU-site (`LiveOpening`) are the physical state at t = 0, and the
work they stand for carries on in the model: reserved and picked stock joins the next pick
and ship waves, receipts are put away, held stock is released after the usual hold, stock in
transit arrives after half its lane's transit time (when it left is not known). The offline
twin starts empty, so it hears of all this at t = 0: an opening count of every SKU-site and
bookkeeping records for the open buckets (their on-hand effects are inside the counts, which
share their instant). Negative figures (a twin showing an over-allocation) open as zero.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulator.spec import LiveOpening
from simulator.truth import BUCKETS

if TYPE_CHECKING:
    from simulator.model import PhysicalModel

HOUR = 3600.0


def open_from_live(model: PhysicalModel, opening: LiveOpening) -> dict[str, int]:
    """Set `model`'s truth from `opening` and report it; returns what did not fit the network."""
    net, tr = model.net, model.truth
    sku_pos = {sku: k for k, sku in enumerate(net.sku_ids)}
    site_pos = {site.id: site.index for site in net.sites}
    unknown = {"skus": 0, "sites": 0, "negative_figures": 0}
    at_s: list[int] = []
    at_k: list[int] = []
    rows: list[list[int]] = []
    for sku, sites in opening.positions.items():
        k = sku_pos.get(sku)
        if k is None:
            unknown["skus"] += 1
            continue
        for site, figures in sites.items():
            s = site_pos.get(site)
            if s is None:
                unknown["sites"] += 1
                continue
            at_s.append(s)
            at_k.append(k)
            rows.append(figures)
    if rows:
        # one scatter per bucket: a Python write per SKU-site and bucket costs seconds at scale
        table = np.array(rows, dtype=np.int64)
        unknown["negative_figures"] = int((table < 0).sum())
        np.maximum(table, 0, out=table)
        for j, bucket in enumerate(BUCKETS):
            getattr(tr, bucket)[at_s, at_k] = table[:, j]
    tr.opening = int(tr.on_hand.sum() + tr.in_transit.sum())
    for s in range(net.n_sites):
        row = tr.on_hand[s].tolist()
        for k in range(net.n_skus):
            model.emit(s, "COUNTED", k, row[k], 0.0, ref="opening", physical=False)
    for s in range(net.n_sites):
        _carry_on(model, s)
    return unknown


def _carry_on(model: PhysicalModel, s: int) -> None:
    """Tell the twin of site `s`'s open buckets and let the model finish what they stand for.

    This module is the model's opening, kept apart for size: it drives the model's own
    continuations (waves, put-away, release, arrival) as the model's processes do.
    """
    tr, net = model.truth, model.net
    hold_s = model.ops.quality_hold_hours * HOUR
    origin, transit_h = net.lanes_to[s][0] if net.lanes_to[s] else ((s + 1) % net.n_sites, 24.0)
    say = model.emit
    open_work = (
        (tr.reserved[s] > 0) | (tr.picked[s] > 0) | (tr.receiving[s] > 0)
        | (tr.quarantined[s] > 0) | (tr.in_transit[s] > 0)
    )  # fmt: skip
    for k in np.flatnonzero(open_work).tolist():
        ref = f"OPEN-{s}-{k}"
        if (q := int(tr.reserved[s, k])) > 0:
            say(s, "RESERVED", k, q, 0.0, ref=ref, physical=False)
            model._reserved_orders[s].append((k, q, ref))
        if (q := int(tr.picked[s, k])) > 0:
            say(s, "RESERVED", k, q, 0.0, ref=ref, physical=False)
            say(s, "PICKED", k, q, 0.0, ref=ref, physical=False)
            model._picked_orders[s].append((k, q, ref))
        if (q := int(tr.receiving[s, k])) > 0:
            say(s, "RECEIVED", k, q, 0.0, ref=ref, physical=False)
            model._schedule_put_away(s, k, q, ref)
        if (q := int(tr.quarantined[s, k])) > 0:
            say(s, "QUALITY_HOLD", k, q, 0.0, ref=ref, physical=False)
            model.after(hold_s, model._released, s, k, q, ref)
        if (q := int(tr.in_transit[s, k])) > 0 and origin != s:
            xfer = f"OPEN-TR-{s}-{k}"
            say(origin, "TRANSFER_SHIPPED", k, q, 0.0, to_s=s, transfer_id=xfer, physical=False)
            model.on_order[s, k] += q
            model.after(transit_h * HOUR / 2, model._transfer_arrived, s, k, q, xfer)
