"""A run that follows another on the same twin continues from the twin's stock: no new
opening count where the twin already holds the SKU-site (a count of fresh random stock there
would be a false COUNT_DISCREPANCY), and what clearing the leftovers ships or receives moves
the stock it continues from."""

from __future__ import annotations

import numpy as np
import simpy

from simulator.engine import Simulation
from simulator.model import carried_on_hand
from tests.simulator.helpers import small


def _started(carried: dict[tuple[int, int], int] | None) -> Simulation:
    sim = Simulation(small("baseline", duration_hours=1), 3, simpy.Environment())
    sim.start(carried=carried)
    return sim


def test_a_continued_sku_site_keeps_the_twin_s_stock_and_gets_no_opening_count() -> None:
    fresh = _started(None)
    assert fresh.model is not None
    counts = fresh.model.stats["events"]  # at t = 0: one opening count per SKU-site
    assert counts == fresh.network.n_sites * fresh.network.n_skus

    carried = {(0, 0): 17, (1, 2): 0, (2, 1): -4}  # a negative book is counted, not kept
    sim = _started(carried)
    assert sim.model is not None
    assert sim.model.stats["events"] == counts - 2
    assert sim.truth.on_hand[0, 0] == 17 and sim.truth.on_hand[1, 2] == 0
    assert sim.truth.on_hand[2, 1] == fresh.truth.on_hand[2, 1]  # the random opening stock
    assert sim.truth.opening == int(sim.truth.on_hand.sum())
    assert np.array_equal(np.delete(sim.truth.on_hand[0], 0), np.delete(fresh.truth.on_hand[0], 0))


def test_clearing_leftovers_moves_the_stock_carried_over() -> None:
    on_hand = {(0, 0): 50, (1, 0): 30, (2, 0): 10}
    leftovers = [
        (0, 0, {"picked": 5, "reserved": 3}),  # the picked units ship
        (1, 0, {"in_transit": 7}),  # the transfer on the road arrives
        (2, 0, {"receiving": -2}),  # a receipt put away before it was received
    ]
    assert carried_on_hand(on_hand, leftovers, n_sites=3) == {(0, 0): 45, (1, 0): 37, (2, 0): 12}
