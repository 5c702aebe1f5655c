"""Ground truth: the physical stock of every SKU at every site, tracked exactly.

The buckets and their meaning are DESIGN's (the same table the twin applies), so the twin's
ATP and the true ATP are directly comparable. Truth changes at the instant a movement
physically happens; what the twin hears about it, and when, is the feeds' business.
Flows in and out of the network are counted so a test can check that stock balances.
"""

from __future__ import annotations

import numpy as np

BUCKETS = ("on_hand", "receiving", "reserved", "picked", "quarantined", "in_transit")


class GroundTruth:
    """Arrays `[site, sku]` of base units per bucket, and the network's flow counters."""

    def __init__(self, n_sites: int, n_skus: int) -> None:
        shape = (n_sites, n_skus)
        self.on_hand = np.zeros(shape, dtype=np.int64)
        self.receiving = np.zeros(shape, dtype=np.int64)
        self.reserved = np.zeros(shape, dtype=np.int64)
        self.picked = np.zeros(shape, dtype=np.int64)
        self.quarantined = np.zeros(shape, dtype=np.int64)
        self.in_transit = np.zeros(shape, dtype=np.int64)  # held at the destination site
        # Flows across the network boundary since the opening stock.
        self.opening = 0
        self.received_from_suppliers = 0
        self.shipped_to_customers = 0
        self.returned_by_customers = 0
        self.scrapped = 0  # reported write-offs (ADJUSTED < 0)
        self.shrinkage = 0  # unreported losses, found later by counts

    def atp(self) -> np.ndarray:
        """DESIGN's ATP for every SKU-site (may be negative only if the model is wrong)."""
        return self.on_hand - self.receiving - self.reserved - self.picked - self.quarantined

    def atp_at(self, s: int, k: int) -> int:
        return int(
            self.on_hand[s, k]
            - self.receiving[s, k]
            - self.reserved[s, k]
            - self.picked[s, k]
            - self.quarantined[s, k]
        )

    def network_stock(self) -> int:
        """Everything the network holds: on hand at every site plus in transit between them."""
        return int(self.on_hand.sum() + self.in_transit.sum())

    def expected_stock(self) -> int:
        """The stock that the flow counters say the network should hold."""
        return (
            self.opening
            + self.received_from_suppliers
            + self.returned_by_customers
            - self.shipped_to_customers
            - self.scrapped
            - self.shrinkage
        )

    def negative_buckets(self) -> list[str]:
        """Names of buckets holding a negative figure anywhere (must always be empty)."""
        return [name for name in BUCKETS if (getattr(self, name) < 0).any()]

    def snapshot(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name).copy() for name in BUCKETS}
