"""The replica's master data, kept current from `masterdata.v1` without a restart.

`LiveMasterData` holds the index ingest validates against (`api.ingest_validation`) and
applies each change to it in place (`twin.masterdata_changes`, the flows' own code), then
tells the view what it shows of master data: a site's name and feed mode, a SKU-site's
reorder point (its at-risk standing follows). `MasterDataReader` is the `TopicReader` that
reads the topic from its beginning in every replica (no group, no commits), so a replica
that starts reads the whole catalogue's changes before `/readyz` says it is ready.

Without `TWIN_MASTER_DATA` the replica starts without master data and checks nothing
against it; the first change on the topic gives it an index (what the topic holds), and from
then on an unknown SKU is refused. Changes are applied on the event loop, in topic order
(one partition), so a SKU published a second ago is known to the next request after the
record is read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from api.ingest_validation import IngestChecker
from api.topic_reader import Targets, TopicReader
from api.view import SiteInfo, TwinView
from twin.catalog_columns import NO_POLICY
from twin.masterdata import MasterData, MasterIndex
from twin.masterdata_changes import Change, ChangeError, apply_change, decode_change, id_parts

log = logging.getLogger("api.masterdata")


class LiveMasterData:
    """The index, the view's master-data facts and ingest's checker, changed together."""

    def __init__(
        self,
        index: MasterIndex | None,
        view: TwinView,
        checker: IngestChecker,
        reader: MasterDataReader | None = None,
    ) -> None:
        self.index = index
        self.view = view
        self.checker = checker
        self.reader = reader
        self.changes_applied = 0
        self.changes_refused = 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.reader is not None:
            self.reader.start(self, loop)

    def ready(self) -> bool:
        """Caught up with the topic as it was when the replica started (no reader: ready)."""
        return self.reader is None or self.reader.ready()

    def stop(self) -> None:
        if self.reader is not None:
            self.reader.stop()

    def apply(self, changes: Sequence[Change]) -> None:
        if self.index is None:
            self.index = MasterIndex(MasterData(sites=[], skus=[]))
            self.checker.index = self.index
        for change in changes:
            try:
                applied = apply_change(self.index, change)
            except (ChangeError, KeyError, ValueError, IndexError) as exc:
                self.changes_refused += 1
                log.warning("master-data change not applied: %s", exc, extra={"key": change.key})
                continue
            self.changes_applied += len(applied)
            for key in applied:
                self._show(key)

    def _show(self, key: str) -> None:
        """The view follows one applied change (a site's facts, a SKU-site's reorder point)."""
        assert self.index is not None
        entity, _, ident = key.partition(":")
        cols, catalog = self.index.columns, self.view.catalog
        if entity == "sites":
            site_id = id_parts(entity, ident)["site"]
            site = self.index.get_site(site_id)
            if site is None:
                catalog.sites.pop(site_id, None)
            else:
                catalog.sites[site_id] = SiteInfo(
                    name=site.name or site.id, feed_mode=site.feed_mode
                )
        elif entity in ("item_sites", "items"):
            parts = id_parts(entity, ident)
            sites = [parts["site"]] if entity == "item_sites" else [s.id for s in cols.sites]
            i = cols.sku_pos.get(parts["sku"])
            for site_id in sites:
                s = cols.site_pos.get(site_id)
                point = (
                    NO_POLICY
                    if i is None or s is None
                    else cols.reorder_point[i * cols.n_sites + s]
                )
                self._set_point(parts["sku"], site_id, None if point == NO_POLICY else point)

    def _set_point(self, sku: str, site: str, point: int | None) -> None:
        points = self.view.catalog.reorder_points
        if points.get((sku, site)) == point:
            return  # the common case while a replica reads the catalogue it loaded at start
        if point is None:
            points.pop((sku, site), None)
            self.view.set_reorder_point(sku, site, 0)
            points.pop((sku, site), None)
        else:
            self.view.set_reorder_point(sku, site, point)


class MasterDataReader(TopicReader[LiveMasterData]):
    """`masterdata.v1` from its beginning, decoded in the reader's thread."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(bootstrap, name="masterdata", log=log)
        self.topic = topic
        self.bad_records = 0

    def _assignment(self, consumer: Consumer) -> tuple[list[TopicPartition], Targets]:
        info = consumer.list_topics(self.topic, timeout=10).topics.get(self.topic)
        if info is None or info.error is not None:
            log.warning("master-data topic missing; no live changes", extra={"topic": self.topic})
            return [], {}
        assignment, targets = [], {}
        for partition in info.partitions:
            tp = TopicPartition(self.topic, partition)
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            assignment.append(TopicPartition(self.topic, partition, OFFSET_BEGINNING))
            if high > low:
                targets[(self.topic, partition)] = high
        return assignment, targets

    def _batch(self, msgs: Sequence[Any]) -> list[Change]:
        batch: list[Change] = []
        for msg in msgs:
            if msg.error() is not None or msg.key() is None:
                continue
            try:
                batch.append(decode_change(msg.key(), msg.value()))
            except (ChangeError, UnicodeDecodeError) as exc:
                self.bad_records += 1
                log.warning("malformed master-data record: %s", exc, extra={"offset": msg.offset()})
        return batch

    @staticmethod
    def _deliver(target: LiveMasterData, batch: list[Any]) -> None:
        target.apply(batch)
