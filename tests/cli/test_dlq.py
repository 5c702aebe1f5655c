"""`invtwin dlq list | replay` on the real broker: letters browsed with their reasons; only the
ones master data now fixes are re-sent, each record once, as its original bytes."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from cli.dlq import parse_since
from cli.main import app
from cli.topic_scan import scan
from infra.kafka_clients import delete_topics, ensure_topics
from infra.topics import FEEDS_API, INVENTORY_DLQ, MASTERDATA, TOPIC_SPECS
from twin.masterdata import load_master_index
from twin.normalize.normalizer import Normalizer
from twin.wire import DeadLetter

BUNDLE = Path(__file__).parents[2] / "examples" / "network-bundle"
runner = CliRunner()


def _record(event_id: str, sku: str) -> bytes:
    return msgspec.json.encode(
        {
            "event_id": event_id,
            "type": "RECEIVED",
            "sku": sku,
            "site": "WH-01",
            "qty": 3,
            "uom": "each",
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": "wms-api:WH-01",
        }
    )


@functools.cache
def _normalizer() -> Normalizer:
    return Normalizer(load_master_index(BUNDLE))


def _letter(original: bytes, source_topic: str, offset: int) -> bytes:
    """The dead letter the normalize flow writes for `original` (its real rejection)."""
    result = _normalizer().normalize("api", original)
    if result.rejections:
        errors = result.rejections[0].errors
        code, message = errors[0].code, errors[0].message
    else:
        errors, code, message = [], "bad_json", "not JSON"
    letter = DeadLetter(
        error_code=code,
        message=message,
        original=original,
        source_topic=source_topic,
        partition=0,
        offset=offset,
        rejected_at=datetime.now(UTC),
        errors=list(errors),
        site="WH-01",
    )
    return msgspec.json.encode(letter)


def _produce(bootstrap: str, records: list[tuple[str, bytes, bytes | None]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for topic, key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def test_since_takes_an_age_or_an_iso_time() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert parse_since("90m", now) == datetime(2026, 12, 4, 10, 30, tzinfo=UTC)
    assert parse_since("2026-12-04T08:00Z") == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    assert parse_since("2026-12-04T08:00") == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


@pytest.fixture
def dlq_topics(kafka_bootstrap: str, topic_suffix: str) -> Iterator[dict[str, str]]:
    """The three topics replay touches (not all the contract's: quicker on a busy machine)."""
    specs = [s for s in TOPIC_SPECS if s.name in (FEEDS_API, INVENTORY_DLQ, MASTERDATA)]
    ensure_topics(kafka_bootstrap, specs, suffix=topic_suffix)
    names = {s.name: s.name + topic_suffix for s in specs}
    yield names
    delete_topics(kafka_bootstrap, names.values())


@pytest.mark.integration
def test_letters_listed_then_replayed_once_the_alias_is_published(
    kafka_bootstrap: str, dlq_topics: dict[str, str], topic_suffix: str
) -> None:
    twin_topics = dlq_topics
    feed, dlq = twin_topics[FEEDS_API], twin_topics[INVENTORY_DLQ]
    by_alias = _record("alias-1", "LOC-NEW")  # an alias WH-01 does not have yet
    unknown = _record("other-1", "SKU-NEVER")  # a SKU nobody publishes
    _produce(
        kafka_bootstrap,
        [
            (dlq, b"k", _letter(by_alias, feed, 1)),
            (dlq, b"k", _letter(by_alias, feed, 7)),  # the same record rejected twice
            (dlq, b"k", _letter(unknown, feed, 2)),
            (dlq, b"k", _letter(b"{not json", feed, 3)),
        ],
    )
    env = {"TWIN_FLOW_TOPIC_SUFFIX": topic_suffix, "TWIN_KAFKA_BOOTSTRAP": kafka_bootstrap}

    listed = runner.invoke(app, ["dlq", "list", "--since", "1h"], env=env)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == 5
    assert f"unknown_sku {feed}[0]@1 site WH-01:" in lines[0]
    assert lines[-1] == f"4 dead letter(s) on {dlq}: unknown_sku 3, malformed_json 1; 3 replayable"
    only = runner.invoke(
        app, ["dlq", "list", "--since", "1h", "--reason", "malformed_json"], env=env
    )
    assert only.output.splitlines()[-1].startswith("1 dead letter(s)")

    replay = ["dlq", "replay", "--since", "1h", "--master-data", str(BUNDLE)]
    before = runner.invoke(app, replay, env=env)
    assert before.exit_code == 0, before.output
    assert before.output.splitlines() == [
        "replayed 0 of 4 dead letter(s): nothing",
        "  left: 1 not replayable (malformed_json)",
        "  left: 2 still rejected (unknown_sku)",
        "  left: 1 the same record again",
    ]

    alias = {"scope": "WH-01", "code": "LOC-NEW", "sku": "SKU-00002"}
    _produce(
        kafka_bootstrap,
        [(twin_topics[MASTERDATA], b"aliases:WH-01@LOC-NEW", msgspec.json.encode(alias))],
    )
    after = runner.invoke(app, replay, env=env)
    assert after.exit_code == 0, after.output
    assert after.output.splitlines()[0] == f"replayed 1 of 4 dead letter(s): {feed} 1"
    assert [msg.value() for msg in scan(kafka_bootstrap, feed)] == [by_alias]
