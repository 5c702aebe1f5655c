"""Both flows apply `masterdata.v1` changes live, on the real broker, without a restart.

A SKU published after the flows started is accepted by the normalize flow (its first event
reaches the twin instead of the dead letters) and has its reorder point in the twin flow (a
LOW_STOCK alert); a lowered reorder point clears that alert with no further event.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from confluent_kafka import KafkaException

from infra import topics
from tests.dataflows.kafkakit import produce, read_all, start_flow
from tests.dataflows.test_flows_on_kafka import calm_master
from tests.polling import wait_until
from twin.events import EventType, InventoryEvent
from twin.masterdata import dump_master_data
from twin.masterdata_changes import Change, encode_change
from twin.wire import alert_decoder, dead_letter_decoder, position_decoder

pytestmark = pytest.mark.integration

NEW_SKU = "SKU-LIVE-1"
ENCODE = msgspec.json.Encoder().encode


def _event(event_id: str, sku: str, site: str, qty: int) -> bytes:
    return ENCODE(
        InventoryEvent(
            event_id=event_id,
            type=EventType.ADJUSTED,  # on hand and available: ATP = qty
            sku=sku,
            site=site,
            qty=qty,
            uom="each",
            occurred_at=datetime.now(UTC),
            source="test",
        )
    )


def _change(entity: str, ident: str, row: dict[str, str]) -> tuple[bytes, bytes | None]:
    return encode_change(Change(entity, ident, row))


def _values(bootstrap: str, topic: str) -> list[bytes]:
    """The topic's values up to its end; none while the broker moves a partition's leader
    (a poll asks again)."""
    try:
        return [m.value() for m in read_all(bootstrap, topic)]
    except KafkaException:
        return []


def _alerts(bootstrap: str, topic: str, sku: str) -> list:
    alerts = (alert_decoder.decode(v) for v in _values(bootstrap, topic))
    return [alert for alert in alerts if alert.sku == sku]


def test_a_sku_published_live_is_accepted_and_judged_and_its_reorder_point_changes_alerts(
    kafka_bootstrap, twin_topics, topic_suffix, tmp_path: Path
):
    t = twin_topics
    changes_topic = t[topics.MASTERDATA]
    master = calm_master(sites=3, skus=5)
    site = master.sites[0].id
    master_path = tmp_path / "master.yaml"
    master_path.write_text(dump_master_data(master))
    env = {
        "TWIN_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TWIN_MASTER_DATA": str(master_path),
        "TWIN_STATE_DIR": str(tmp_path),
        "TWIN_FLOW_METRICS_PORT": "0",
        "TWIN_FLOW_COALESCE_MS": "50",
    }
    args = ["--topic-suffix", topic_suffix, "--no-recovery"]
    logs = {name: tmp_path / f"{name}.log" for name in ("normalize", "twin")}
    flows: dict[str, subprocess.Popen] = {}
    try:
        for name, log in logs.items():
            flows[name] = start_flow(name, args, env, log)

        def positions_of(sku: str) -> list:
            values = _values(kafka_bootstrap, t["twin.positions.v1"])
            return [p for p in map(position_decoder.decode, values) if p.sku == sku]

        def running() -> bool:
            for name, proc in flows.items():
                assert proc.poll() is None, logs[name].read_text()[-3000:]
            return True

        # both flows are up once an event of a known SKU has come through them
        known = master.skus[0].id
        produce(kafka_bootstrap, t["feeds.api.v1"], [(None, _event("warm-1", known, site, 1))])
        wait_until(lambda: running() and bool(positions_of(known)), 120, "the flows to start")

        # a new SKU and its policy at `site`, then at once its first event: 5 < 10
        produce(
            kafka_bootstrap,
            changes_topic,
            [
                _change("items", NEW_SKU, {"sku": NEW_SKU, "base_uom": "each", "unit_value": "4"}),
                _change(
                    "item_sites",
                    f"{NEW_SKU}@{site}",
                    {"sku": NEW_SKU, "site": site, "reorder_point": "10", "target": "20"},
                ),
            ],
        )
        produce(kafka_bootstrap, t["feeds.api.v1"], [(None, _event("new-1", NEW_SKU, site, 5))])
        wait_until(lambda: running() and bool(positions_of(NEW_SKU)), 60, "the new SKU's position")
        letters = [
            dead_letter_decoder.decode(m.value())
            for m in read_all(kafka_bootstrap, t["inventory.dlq.v1"])
        ]
        assert not [x for x in letters if NEW_SKU.encode() in bytes(x.original)]

        def low_stock(state: str) -> list:
            return [
                a
                for a in _alerts(kafka_bootstrap, t["twin.alerts.v1"], NEW_SKU)
                if a.kind == "LOW_STOCK" and a.state == state
            ]

        wait_until(lambda: running() and bool(low_stock("raised")), 60, "LOW_STOCK raised")
        assert low_stock("raised")[0].details["reorder_point"] == 10

        # the reorder point drops below the stock: the alert clears, no event needed
        produce(
            kafka_bootstrap,
            changes_topic,
            [
                _change(
                    "item_sites",
                    f"{NEW_SKU}@{site}",
                    {"sku": NEW_SKU, "site": site, "reorder_point": "3", "target": "20"},
                )
            ],
        )
        wait_until(lambda: running() and bool(low_stock("cleared")), 60, "LOW_STOCK cleared")
    finally:
        for proc in flows.values():
            proc.terminate()
        for proc in flows.values():
            proc.wait(30)
