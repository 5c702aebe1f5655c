"""The offline twin: raw feed messages through the real normalizer and twin core, in-process.

This is the same `twin/` code the dataflows run, without Kafka: each delivered message is
normalized (`twin.normalize.Normalizer`) and its events applied to one `twin.shard.TwinShard`
at the simulated delivery time. It measures what the report needs: event-to-visible latency
per site, duplicates rejected, DLQ records, and the twin's ATP per SKU-site.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from simulator.network import Network
from twin.normalize import Normalizer
from twin.rules import RuleBook
from twin.shard import TwinShard


class OfflineTwin:
    """A sink for feed deliveries that keeps a twin and the figures the report compares."""

    def __init__(self, network: Network, start: datetime) -> None:
        self.network = network
        self.start = start
        self._start_ts = start.timestamp()
        self.normalizer = Normalizer(network.index)
        self.shard = TwinShard()  # its rules over the network's columns, not a dict per SKU
        self.shard.rules = RuleBook.from_master(network.index, self.shard.config.rules)
        self._sku_pos = {sku: k for k, sku in enumerate(network.sku_ids)}
        self._site_pos = {site.id: site.index for site in network.sites}
        n_s = network.n_sites
        self.latency_s: list[list[float]] = [[] for _ in range(n_s)]
        # occurred_s[s][i] is when the event of latency_s[s][i] happened (sim seconds)
        self.occurred_s: list[list[float]] = [[] for _ in range(n_s)]
        self.duplicates = [0] * n_s
        self.dlq = [0] * n_s
        self.applied = 0
        self.expired = 0
        self.conflicts = 0
        self.alerts = 0
        self.messages = 0
        # The twin's ATP per SKU-site, kept as each event is applied: an event changes ATP
        # only at its own site (in_transit is not in ATP). Plain lists: cheap scalar writes.
        self._mirror: list[list[int]] = [[0] * network.n_skus for _ in range(n_s)]
        self._known: list[list[bool]] = [[False] * network.n_skus for _ in range(n_s)]
        self._unknown = n_s * network.n_skus

    def deliver(self, at: float, kind: str, key: bytes, value: bytes, s: int) -> None:
        """Normalize one raw message and apply its events at simulated time `at`."""
        self.messages += 1
        applied_at = self.start + timedelta(seconds=at)
        result = self.normalizer.normalize(kind, value)  # type: ignore[arg-type]
        if result.rejections:
            self.dlq[s] += len(result.rejections)
        apply, twins = self.shard.apply, self.shard.twins
        site_pos, sku_pos, latency, occurred, start_ts = (
            self._site_pos, self._sku_pos, self.latency_s, self.occurred_s, self._start_ts
        )  # fmt: skip
        mirror, known = self._mirror, self._known
        for event in result.events:
            outcome = apply(event, applied_at)
            if outcome.duplicate:
                self.duplicates[s] += 1
                continue
            if outcome.expired or outcome.conflict:
                # not applied; the twin flow dead-letters these (outside_horizon,
                # event_id_conflict), so they count where the flow would count them
                self.expired += outcome.expired
                self.conflicts += outcome.conflict
                self.dlq[s] += 1
                continue
            self.applied += 1
            if outcome.alerts:
                self.alerts += len(outcome.alerts)
            site, sku = event.site, event.sku
            s_event, k = site_pos[site], sku_pos[sku]
            t_event = event.occurred_at.timestamp() - start_ts
            latency[s_event].append(at - t_event)
            occurred[s_event].append(t_event)
            mirror[s_event][k] = twins[sku].sites[site].atp
            if not known[s_event][k]:
                known[s_event][k] = True
                self._unknown -= 1

    def atp(self, s: int, k: int) -> int | None:
        """The twin's ATP of one SKU-site now (None when the twin has never seen it)."""
        twin = self.shard.twins.get(self.network.sku_ids[k])
        if twin is None:
            return None
        buckets = twin.sites.get(self.network.sites[s].id)
        return None if buckets is None else buckets.atp

    def atp_matrix(self) -> np.ndarray:
        """The twin's ATP for every SKU-site (0 where it knows nothing)."""
        return np.array(self._mirror, dtype=np.int64)

    def all_known(self) -> bool:
        """Whether the twin has heard of every SKU-site (the opening counts have arrived)."""
        return self._unknown == 0
