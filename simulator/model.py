"""The physical network in SimPy: demand, fulfilment, replenishment, transfers, quality, counts.

Scenario: a distributor's sites serve customer orders (Poisson per SKU-site, shaped by a
diurnal curve and peaks), reserve stock when an order arrives, pick in waves and ship at
carrier cut-offs; every review cycle a site reorders what fell below its reorder point, by a
transfer from a site with a surplus along a lane or from a supplier with a lead time; goods
are received, then put away (a few go on quality hold first); customers return some orders;
stock quietly goes missing (shrinkage) until a cycle count finds it.

Speed: a site's demand is one process drawing a tick's orders at once with numpy (the
superposition of its SKUs' Poisson streams), waves move whole lists, and lead times are
single SimPy timeouts with callbacks. Every movement updates `GroundTruth` at the instant it
happens and is pushed to the site's feed (`emit`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator, Mapping
from typing import Any

import numpy as np
import simpy

from simulator.feeds import Feed
from simulator.network import Network
from simulator.spec import Scenario
from simulator.truth import GroundTruth

HOUR = 3600.0
DAY = 24 * HOUR
DEMAND_TICK_S = 60.0
# Offsets keep different kinds of movement off the same instant: a count must never share
# its timestamp with an on-hand movement it did not see (DESIGN's COUNTED rule).
COUNT_OFFSET_S = 7.0
REVIEW_OFFSET_S = 13.0

# A twin's view of ATP for over-promise checks: (site index, sku index) -> atp, or None.
TwinAtp = Callable[[int, int], int | None]


class PhysicalModel:
    """The physical processes of one run over one network, writing into `truth` and `feeds`."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        network: Network,
        truth: GroundTruth,
        feeds: list[Feed],
        seed_seq: np.random.SeedSequence,
        twin_atp: TwinAtp | None = None,
        run_tag: str = "",
    ) -> None:
        self.env = env
        self.scenario = scenario
        self.ops = scenario.operations
        self.net = network
        self.truth = truth
        self.feeds = feeds
        self.twin_atp = twin_atp
        # Event ids are unique per run: live runs against a long-running twin add a tag,
        # or the twin would take a second run's events for duplicates of the first's.
        self._id_prefix = [f"{s.id}-{run_tag}-" if run_tag else f"{s.id}-" for s in network.sites]
        self.end_s = scenario.duration_hours * HOUR
        seeds = seed_seq.spawn(4)
        self.np_rng = np.random.Generator(np.random.PCG64(seeds[0]))
        self.rng = random.Random(int(seeds[1].generate_state(1)[0]))
        self._seq = [0] * network.n_sites
        self._is_3pl = [s.feed_mode == "3pl" for s in network.sites]
        n_s, n_k = network.n_sites, network.n_skus
        self.on_order = np.zeros((n_s, n_k), dtype=np.int64)
        self._reserved_orders: list[list[tuple[int, int, str]]] = [[] for _ in range(n_s)]
        self._picked_orders: list[list[tuple[int, int, str]]] = [[] for _ in range(n_s)]
        self.in_flight = 0  # scheduled physical completions not yet happened
        # (t, site, sku) of every unreported loss and every cycle count, for the report/tests
        self.shrink_log: list[tuple[float, int, int]] = []
        self.count_log: list[tuple[float, int, int]] = []
        # what of a live opening did not fit this network (unknown SKUs or sites)
        self.opening_misfits: dict[str, int] = {}
        self.stats: dict[str, int] = dict.fromkeys(
            ("orders", "orders_filled", "lost_orders", "over_promises", "events", "transfers",
             "purchases", "returns", "holds", "counts", "shrink_events", "cancellations"),
            0,
        )  # fmt: skip
        self._demand_setup(seeds[2])

    # ------------------------------------------------------------------ plumbing

    def emit(
        self,
        s: int,
        etype: str,
        k: int,
        qty: int,
        t: float,
        *,
        uom: str = "",
        to_s: int = -1,
        transfer_id: str = "",
        ref: str = "",
        report_delay: float = 0.0,
        reported_qty: int | None = None,
        physical: bool = True,
    ) -> None:
        """Record a movement that physically happened at `t` and hand it to the site's feed.

        `qty` is in base units (what truth changes by); `reported_qty` in `uom` is what the
        feed says when the site reports in another unit (a receipt in cases).
        """
        if physical:
            self._apply(s, etype, k, qty, to_s)
        self._seq[s] += 1
        if self._is_3pl[s]:
            # A 3PL file keeps whole seconds: round up, so the reported instant stays after
            # every count taken before the movement happened.
            t = float(math.ceil(t))
        record = (
            t,
            f"{self._id_prefix[s]}{self._seq[s]:08d}",
            etype,
            k,
            qty if reported_qty is None else reported_qty,
            uom or self.net.base_uom[k],
            to_s,
            transfer_id,
            ref,
        )
        self.stats["events"] += 1
        self.feeds[s].push(t + report_delay, record)

    def _apply(self, s: int, etype: str, k: int, q: int, to_s: int) -> None:
        tr = self.truth
        if etype == "RESERVED":
            tr.reserved[s, k] += q
        elif etype == "PICKED":
            tr.reserved[s, k] -= q
            tr.picked[s, k] += q
        elif etype == "SHIPPED":
            tr.picked[s, k] -= q
            tr.on_hand[s, k] -= q
            tr.shipped_to_customers += q
        elif etype == "RESERVATION_RELEASED":
            tr.reserved[s, k] -= q
        elif etype == "RECEIVED":
            tr.on_hand[s, k] += q
            tr.receiving[s, k] += q
            tr.received_from_suppliers += q
        elif etype == "PUT_AWAY":
            tr.receiving[s, k] -= q
        elif etype == "TRANSFER_SHIPPED":
            tr.on_hand[s, k] -= q
            tr.in_transit[to_s, k] += q
        elif etype == "TRANSFER_RECEIVED":
            tr.on_hand[s, k] += q
            tr.receiving[s, k] += q
            tr.in_transit[s, k] -= q
        elif etype == "QUALITY_HOLD":
            tr.quarantined[s, k] += q
        elif etype == "QUALITY_RELEASE":
            tr.quarantined[s, k] -= q
        elif etype == "RETURNED":
            tr.on_hand[s, k] += q
            tr.quarantined[s, k] += q
            tr.returned_by_customers += q
        elif etype == "ADJUSTED":
            tr.on_hand[s, k] += q
            if q < 0:
                tr.scrapped -= q
        # COUNTED observes; it changes nothing physical.

    def after(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        """Run `action(*args)` `delay` seconds from now (one SimPy timeout, no process)."""
        self.in_flight += 1

        def fire(_event: simpy.Event) -> None:
            self.in_flight -= 1
            action(*args)

        self.env.timeout(delay).callbacks.append(fire)

    def start(self, carried: Mapping[tuple[int, int], int] | None = None) -> None:
        """Open the books and start every site's processes.

        `carried`: (site, sku) -> on hand that a running twin already holds for this network
        (`carried_on_hand`). Those SKU-sites continue from it, with no opening count, so a
        run following another on the same twin counts nothing the twin would find wrong.
        """
        self._opening_stock(carried or {})
        env = self.env
        for s in range(self.net.n_sites):
            env.process(self._demand(s))
            env.process(self._pick_waves(s))
            env.process(self._ship_waves(s))
            env.process(self._reviews(s))
            if self.ops.cycle_count_interval_hours > 0 and self.ops.cycle_count_skus > 0:
                env.process(self._cycle_counts(s))
            if self.ops.shrinkage_events_per_site_per_day > 0:
                env.process(self._shrinkage(s))

    def reconcile(self, leftovers: list[tuple[int, int, dict[str, int]]]) -> None:
        """Report, at t=0, what clears buckets a long-running twin kept from an earlier run.

        Live runs may meet a twin that still holds an earlier run's open orders, receipts,
        holds and transfers for this network (on-hand is reset by the opening counts). These
        bookkeeping records bring those buckets to zero; nothing physical happens (truth is
        untouched). Their on-hand effects occur at the opening counts' instant, so the counts
        absorb them; a SKU-site continued from the twin (`start(carried)`) has no count, and
        its carried on hand already includes them (`carried_on_hand`).
        """
        for s, k, buckets in leftovers:
            for etype, q, at_s, to_s, xfer in _clearing_events(s, buckets, self.net.n_sites):
                self.emit(at_s, etype, k, q, 0.0, ref="reconcile", physical=False, to_s=to_s,
                          transfer_id=xfer)  # fmt: skip

    def _opening_stock(self, carried: Mapping[tuple[int, int], int]) -> None:
        # Opening stock sits between reorder point and target; an opening count at t=0
        # tells the twin what is there (the twin starts empty). A SKU-site the twin already
        # holds keeps its stock: counting new stock there would be a false discrepancy.
        # A run forked from the live twin opens with the twin's buckets instead.
        if self.scenario.opening is not None:
            from simulator.opening import open_from_live

            self.opening_misfits = open_from_live(self, self.scenario.opening)
            return
        net, tr = self.net, self.truth
        span = (net.target - net.reorder_point).astype(np.float64)
        fill = self.np_rng.random(span.shape)
        tr.on_hand[:] = net.reorder_point + np.floor(span * fill).astype(np.int64)
        kept = {sk: q for sk, q in carried.items() if q >= 0}  # a negative book is counted
        for (s, k), q in kept.items():
            tr.on_hand[s, k] = q
        tr.opening = int(tr.on_hand.sum())
        for s in range(net.n_sites):
            row = tr.on_hand[s].tolist()
            for k in range(net.n_skus):
                if (s, k) not in kept:
                    self.emit(s, "COUNTED", k, row[k], 0.0, ref="opening")

    # ------------------------------------------------------------------ demand

    def _demand_setup(self, seed: np.random.SeedSequence) -> None:
        net, demand = self.net, self.scenario.demand
        rng = np.random.Generator(np.random.PCG64(seed))
        # Popular items get the big targets: demand follows the stock policy, with noise.
        weight = net.target.astype(np.float64) * rng.lognormal(
            0.0, demand.popularity_sigma, net.target.shape
        )
        per_day = demand.orders_per_sku_site_per_day
        weight *= per_day * weight.size / max(weight.sum(), 1e-12)
        self.rate_per_day = weight  # (S, K) orders per day
        self._cdf = [np.cumsum(row) / max(row.sum(), 1e-12) for row in weight]
        self._site_rate = weight.sum(axis=1) / DAY  # orders per second, before shaping
        self._curve = demand.curve()

    def demand_multiplier(self, s: int, t: float) -> float:
        hour = t / HOUR
        mult = self._curve[int(hour) % 24]
        site = self.net.sites[s].id
        for peak in self.scenario.demand.peaks:
            in_peak = peak.start_hour <= hour < peak.start_hour + peak.duration_hours
            if in_peak and (peak.sites is None or site in peak.sites):
                mult *= peak.multiplier
        return mult

    def _demand(self, s: int) -> Generator[simpy.Event, None, None]:
        env, rng = self.env, self.np_rng
        qty_p = 1.0 / self.scenario.demand.order_qty_mean
        while env.now + DEMAND_TICK_S <= self.end_s:
            yield env.timeout(DEMAND_TICK_S)
            t0 = env.now - DEMAND_TICK_S
            lam = self._site_rate[s] * self.demand_multiplier(s, t0) * DEMAND_TICK_S
            n = int(rng.poisson(lam))
            if not n:
                continue
            times = t0 + np.sort(rng.random(n)) * DEMAND_TICK_S
            skus = np.searchsorted(self._cdf[s], rng.random(n), side="right")
            qtys = rng.geometric(qty_p, n)
            self._orders(s, times.tolist(), skus.tolist(), qtys.tolist())

    def _orders(self, s: int, times: list[float], skus: list[int], qtys: list[int]) -> None:
        tr, stats = self.truth, self.stats
        on_hand, rec, res, pick, quar = (
            tr.on_hand[s], tr.receiving[s], tr.reserved[s], tr.picked[s], tr.quarantined[s]
        )  # fmt: skip
        twin_atp = self.twin_atp
        n_k = self.net.n_skus
        pending = self._reserved_orders[s]
        for t, k, q in zip(times, skus, qtys, strict=True):
            k = min(k, n_k - 1)
            stats["orders"] += 1
            atp = int(on_hand[k] - rec[k] - res[k] - pick[k] - quar[k])
            if twin_atp is not None and atp < q:
                seen = twin_atp(s, k)
                if seen is not None and seen >= q:
                    stats["over_promises"] += 1  # the twin would have promised phantom stock
            if atp < q:
                stats["lost_orders"] += 1
                continue
            stats["orders_filled"] += 1
            ref = f"SO-{s}-{stats['orders']}"
            self.emit(s, "RESERVED", k, q, t, ref=ref)
            pending.append((k, q, ref))

    # ------------------------------------------------------------------ fulfilment

    def _pick_waves(self, s: int) -> Generator[simpy.Event, None, None]:
        env, rng, cancel = self.env, self.rng, self.ops.cancel_rate
        wave = self.ops.pick_wave_minutes * 60.0
        while env.now + wave <= self.end_s:
            yield env.timeout(wave)
            orders, self._reserved_orders[s] = self._reserved_orders[s], []
            picked = self._picked_orders[s]
            t = env.now
            for k, q, ref in orders:
                if cancel and rng.random() < cancel:
                    self.stats["cancellations"] += 1
                    self.emit(s, "RESERVATION_RELEASED", k, q, t, ref=ref)
                else:
                    self.emit(s, "PICKED", k, q, t, ref=ref)
                    picked.append((k, q, ref))

    def _ship_waves(self, s: int) -> Generator[simpy.Event, None, None]:
        env, rng, p_return = self.env, self.rng, self.ops.return_rate
        wave = self.ops.ship_wave_minutes * 60.0
        while env.now + wave <= self.end_s:
            yield env.timeout(wave)
            orders, self._picked_orders[s] = self._picked_orders[s], []
            t = env.now
            for k, q, ref in orders:
                self.emit(s, "SHIPPED", k, q, t, ref=ref)
                if p_return and rng.random() < p_return:
                    delay = rng.uniform(2 * HOUR, 12 * HOUR)
                    if t + delay < self.end_s:
                        self.after(delay, self._returned, s, k, q, ref)

    def _returned(self, s: int, k: int, q: int, ref: str) -> None:
        self.stats["returns"] += 1
        self.emit(s, "RETURNED", k, q, self.env.now, ref=ref)
        inspection = self.ops.return_inspection_hours * HOUR * self.rng.uniform(0.5, 1.5)
        self.after(inspection, self._inspected, s, k, q, ref)

    def _inspected(self, s: int, k: int, q: int, ref: str) -> None:
        t = self.env.now
        self.emit(s, "QUALITY_RELEASE", k, q, t, ref=ref)
        if self.rng.random() < 0.2:  # damaged: written off, and said so
            self.emit(s, "ADJUSTED", k, -q, t, ref=ref)

    # ------------------------------------------------------------------ replenishment

    def _reviews(self, s: int) -> Generator[simpy.Event, None, None]:
        env = self.env
        cycle = self.ops.review_minutes * 60.0
        yield env.timeout(REVIEW_OFFSET_S)
        while env.now + cycle <= self.end_s:
            yield env.timeout(cycle)
            self._review(s)

    def _review(self, s: int) -> None:
        net, tr = self.net, self.truth
        atp = tr.atp()
        position = atp[s] + tr.receiving[s] + tr.quarantined[s] + self.on_order[s]
        needy = np.flatnonzero(position < net.reorder_point[s])
        if not needy.size:
            return
        qty = net.target[s, needy] - position[needy]
        source = np.full(needy.size, -1)
        best = np.zeros(needy.size, dtype=np.int64)
        lanes = net.lanes_to[s] if self.ops.transfers else []
        for j, _hours in lanes:
            # A source keeps at least the midpoint of its own band after shipping.
            keep = (net.reorder_point[j, needy] + net.target[j, needy]) // 2
            spare = atp[j, needy] - keep - qty
            better = (spare >= 0) & ((source < 0) | (spare > best))
            source[better] = j
            best[better] = spare[better]
        transit = dict(net.lanes_to[s])
        t = self.env.now
        for k, q, j in zip(needy.tolist(), qty.tolist(), source.tolist(), strict=True):
            self.on_order[s, k] += q
            if j >= 0:
                self._transfer(j, s, k, q, t, transit[j])
            else:
                self._purchase(s, k, q)

    def _transfer(self, j: int, s: int, k: int, q: int, t: float, hours: float) -> None:
        self.stats["transfers"] += 1
        transfer_id = f"TR-{self.net.sites[j].id}-{self.stats['transfers']:07d}"
        self.emit(j, "TRANSFER_SHIPPED", k, q, t, to_s=s, transfer_id=transfer_id)
        transit = hours * HOUR * self.rng.uniform(0.9, 1.1)
        self.after(transit, self._transfer_arrived, s, k, q, transfer_id)

    def _transfer_arrived(self, s: int, k: int, q: int, transfer_id: str) -> None:
        self.emit(s, "TRANSFER_RECEIVED", k, q, self.env.now, transfer_id=transfer_id)
        self.on_order[s, k] -= q
        self._schedule_put_away(s, k, q, transfer_id)

    def _purchase(self, s: int, k: int, q: int) -> None:
        self.stats["purchases"] += 1
        spec = self.scenario.network
        lead = max(
            0.5 * HOUR,
            self.rng.gauss(spec.supplier_lead_time_hours, spec.supplier_lead_time_sd_hours) * HOUR,
        )
        ref = f"PO-{self.net.sites[s].id}-{self.stats['purchases']:07d}"
        self.after(lead, self._supplier_delivered, s, k, q, ref)

    def _supplier_delivered(self, s: int, k: int, q: int, ref: str) -> None:
        case = int(self.net.case_factor[k])
        if case > 1 and q % case == 0:
            self.emit(
                s, "RECEIVED", k, q, self.env.now, uom="case", reported_qty=q // case, ref=ref
            )
        else:
            self.emit(s, "RECEIVED", k, q, self.env.now, ref=ref)
        self.on_order[s, k] -= q
        self._schedule_put_away(s, k, q, ref)

    def _schedule_put_away(self, s: int, k: int, q: int, ref: str) -> None:
        delay = self.ops.putaway_minutes * 60.0 * self.rng.uniform(0.5, 1.5)
        self.after(delay, self._put_away, s, k, q, ref)

    def _put_away(self, s: int, k: int, q: int, ref: str) -> None:
        t = self.env.now
        self.emit(s, "PUT_AWAY", k, q, t, ref=ref)
        if self.ops.quality_hold_rate and self.rng.random() < self.ops.quality_hold_rate:
            self.stats["holds"] += 1
            self.emit(s, "QUALITY_HOLD", k, q, t, ref=ref)
            hold = self.ops.quality_hold_hours * HOUR * self.rng.uniform(0.5, 1.5)
            self.after(hold, self._released, s, k, q, ref)

    def _released(self, s: int, k: int, q: int, ref: str) -> None:
        self.emit(s, "QUALITY_RELEASE", k, q, self.env.now, ref=ref)

    # ------------------------------------------------------------------ losses and counts

    def _shrinkage(self, s: int) -> Generator[simpy.Event, None, None]:
        env, rng = self.env, self.rng
        mean_gap = DAY / self.ops.shrinkage_events_per_site_per_day
        while True:
            yield env.timeout(rng.expovariate(1.0 / mean_gap))
            if env.now >= self.end_s:
                return
            k = rng.randrange(self.net.n_skus)
            atp = self.truth.atp_at(s, k)
            if atp <= 0:
                continue
            lost = min(atp, 1 + int(rng.expovariate(0.5)))
            # Nobody reports a theft or a breakage nobody saw: truth changes, the feed is silent.
            self.truth.on_hand[s, k] -= lost
            self.truth.shrinkage += lost
            self.stats["shrink_events"] += 1
            self.shrink_log.append((env.now, s, k))

    def _cycle_counts(self, s: int) -> Generator[simpy.Event, None, None]:
        env, rng = self.env, self.rng
        every = self.ops.cycle_count_interval_hours * HOUR
        n = min(self.ops.cycle_count_skus, self.net.n_skus)
        delay = self.ops.count_report_delay_hours * HOUR
        yield env.timeout(COUNT_OFFSET_S)
        while env.now + every <= self.end_s:
            yield env.timeout(every)
            t = env.now
            for k in sorted(rng.sample(range(self.net.n_skus), n)):
                self.stats["counts"] += 1
                self.count_log.append((t, s, k))
                counted = int(self.truth.on_hand[s, k])
                self.emit(s, "COUNTED", k, counted, t, ref=f"CC-{s}-{int(t)}", report_delay=delay)


# How each clearing event moves on hand at its reporting site (the twin's rules).
_ON_HAND_SIGN = {"SHIPPED": -1, "RECEIVED": 1, "TRANSFER_SHIPPED": -1, "TRANSFER_RECEIVED": 1}


def carried_on_hand(
    on_hand: Mapping[tuple[int, int], int],
    leftovers: list[tuple[int, int, dict[str, int]]],
    n_sites: int,
) -> dict[tuple[int, int], int]:
    """The on hand a run continues from: the twin's, after `reconcile`'s clearing events.

    `on_hand` is what the twin holds per (site, sku); `leftovers` its open buckets (what
    `PhysicalModel.reconcile` clears at t = 0). Clearing a picked quantity ships it, a
    transfer on the road arrives: the stock the next run starts from moves with them.
    """
    carried = dict(on_hand)
    for s, k, buckets in leftovers:
        for etype, q, at_s, _to, _xfer in _clearing_events(s, buckets, n_sites):
            sign = _ON_HAND_SIGN.get(etype, 0)
            if sign and (at_s, k) in carried:
                carried[(at_s, k)] += sign * q
    return carried


def _clearing_events(
    s: int, b: dict[str, int], n_sites: int
) -> list[tuple[str, int, int, int, str]]:
    """(type, qty, reporting site, to_site, transfer_id) that bring b's buckets to zero at s."""
    out: list[tuple[str, int, int, int, str]] = []
    reserved, picked = b.get("reserved", 0), b.get("picked", 0)
    receiving, held, transit = (
        b.get("receiving", 0),
        b.get("quarantined", 0),
        b.get("in_transit", 0),
    )
    if reserved > 0:
        out.append(("RESERVATION_RELEASED", reserved, s, -1, ""))
    elif reserved < 0:
        out.append(("RESERVED", -reserved, s, -1, ""))
    if picked > 0:
        out.append(("SHIPPED", picked, s, -1, ""))
    elif picked < 0:
        out += [("RESERVED", -picked, s, -1, ""), ("PICKED", -picked, s, -1, "")]
    if receiving > 0:
        out.append(("PUT_AWAY", receiving, s, -1, ""))
    elif receiving < 0:
        out.append(("RECEIVED", -receiving, s, -1, ""))
    if held > 0:
        out.append(("QUALITY_RELEASE", held, s, -1, ""))
    elif held < 0:
        out.append(("QUALITY_HOLD", -held, s, -1, ""))
    if transit > 0:
        xfer = f"RECON-{s}-{transit}"
        out += [("TRANSFER_RECEIVED", transit, s, -1, xfer), ("PUT_AWAY", transit, s, -1, "")]
    elif transit < 0 and n_sites > 1:
        xfer = f"RECON-{s}-{-transit}"
        out.append(("TRANSFER_SHIPPED", -transit, (s + 1) % n_sites, s, xfer))
    return out
