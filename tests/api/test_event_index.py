"""The pieces of ingest idempotency: derived ids, business fingerprints, the bounded index and
the decoding of records read back from the ingest topic."""

from __future__ import annotations

import asyncio
import json

import pytest

from api.event_identity import business_fingerprint, event_id_for_key
from api.event_index import EventIdIndex
from api.idempotency_log import written_events
from api.problems import BrokerUnavailable
from tests.api.fakes import event_json
from twin.validation import decode_event


def fingerprint_of(body: dict[str, object] | str) -> int:
    raw = body if isinstance(body, str) else json.dumps(body)
    return business_fingerprint(decode_event(raw))


def test_a_derived_id_depends_on_the_caller_and_never_equals_the_key() -> None:
    mine, theirs = event_id_for_key("tok-a", "k-1"), event_id_for_key("tok-b", "k-1")
    assert mine != theirs and mine.startswith("idem-") and "k-1" not in mine
    assert event_id_for_key("tok-a", "k-1") == mine  # stable across processes
    # The identity and the key cannot be traded for each other.
    assert event_id_for_key("a", "bc") != event_id_for_key("ab", "c")


def test_the_fingerprint_is_of_parsed_business_content() -> None:
    event = event_json("e", qty=5)
    same = [
        json.dumps(event, indent=3, sort_keys=True),
        {**event, "qty": 5.0},
        {**event, "occurred_at": "2026-11-26T05:00:00-05:00"},
        {**event, "recorded_at": "2026-11-27T00:00:00Z", "source": "other", "ref": "r"},
        {**event, "event_id": "another-id"},  # the id is what is compared against, not content
    ]
    assert {fingerprint_of(body) for body in [event, *same]} == {fingerprint_of(event)}
    changed = [
        {**event, "qty": 6},
        {**event, "sku": "SKU-2"},
        {**event, "site": "WH-02"},
        {**event, "uom": "case"},
        {**event, "type": "PUT_AWAY"},
        {**event, "occurred_at": "2026-11-26T10:00:01Z"},
    ]
    assert len({fingerprint_of(body) for body in changed} | {fingerprint_of(event)}) == 7


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_ids_are_forgotten_once_older_than_the_window() -> None:
    clock = FakeClock()
    index = EventIdIndex(window_s=3600, max_ids=1000, bucket_s=60, clock=clock)
    index.remember("old", 1)
    clock.now += 1800
    index.remember("newer", 2)
    clock.now += 1800 + 2 * 60 + 1
    index.remember("newest", 3)
    assert (index.fingerprint("old"), index.fingerprint("newer")) == (None, 2)
    assert index.fingerprint("newest") == 3
    # A record read back that was written before the window is not remembered at all.
    index.remember("ancient", 4, written_at=clock.now - 7200)
    assert index.fingerprint("ancient") is None


def test_past_the_count_bound_the_oldest_ids_go_first() -> None:
    clock = FakeClock()
    index = EventIdIndex(window_s=10**6, max_ids=100, bucket_s=60, clock=clock)
    for i in range(250):
        clock.now += 1
        index.remember(f"id-{i}", i)
    assert len(index) == 100
    assert index.fingerprint("id-149") is None and index.fingerprint("id-150") == 150


def test_a_conflicting_record_read_back_keeps_the_first_and_is_counted() -> None:
    index = EventIdIndex(window_s=3600, max_ids=10)
    assert index.remember("e", 1) and index.remember("e", 1)
    assert not index.remember("e", 2)
    assert (index.fingerprint("e"), index.conflicts_seen) == (1, 1)


def test_a_claimed_id_is_pending_for_others_and_released_on_failure() -> None:
    async def scenario() -> None:
        index = EventIdIndex(window_s=3600, max_ids=10)
        assert index.claim("e", 1).new
        assert index.conflicts("e", 2) and index.claim("e", 2).conflict
        waiting = index.claim("e", 1).pending
        assert waiting is not None
        index.settle("e", BrokerUnavailable("down"))
        with pytest.raises(BrokerUnavailable):
            await waiting
        assert index.fingerprint("e") is None
        assert index.claim("e", 1).new  # a retry may write it
        index.settle("e", None)
        assert index.fingerprint("e") == 1
        assert not index.claim("e", 1).new and not index.claim("e", 1).conflict

    asyncio.run(scenario())


def test_records_read_back_are_objects_or_arrays_and_garbage_is_skipped() -> None:
    one = json.dumps(event_json("a")).encode()
    many = json.dumps([event_json("b"), {"nope": 1}, event_json("c")]).encode()
    assert [e.event_id for e in written_events(one)] == ["a"]
    assert [e.event_id for e in written_events(b"  " + many)] == ["b", "c"]
    for garbage in (b"", b"{", b"[1, 2", b"null", b'{"event_id": 3}', b"\xff"):
        assert written_events(garbage) == []
    naive = json.dumps({**event_json("n"), "occurred_at": "2026-11-26T10:00:00"}).encode()
    assert written_events(naive) == []
    # Read back, an event has the fingerprint the route computed when it wrote it.
    [back] = written_events(one)
    assert business_fingerprint(back) == fingerprint_of(event_json("a"))
