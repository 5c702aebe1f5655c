"""The shard snapshot codec: what resumes is the same state, and goes on the same way."""

from __future__ import annotations

import io
import pickle
import random
from array import array
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from dataflows import snapshots
from dataflows.shard_logic import ShardFactory, ShardState
from tests.dataflows.scripted import script_events
from twin.masterdata_gen import generate_master_data
from twin.position import SiteBuckets, SkuTwin
from twin.site_stats import SitePartial

NOW = datetime(2026, 11, 16, 18, 0, tzinfo=UTC)


def _state_after(events, master) -> ShardState:
    state = ShardFactory(master).new()
    for event in events:
        state.shard.apply(event, NOW)
        state.windows.add(event)
    return state


def _fingerprint(state: ShardState) -> dict:
    """Everything that decides future behaviour: buckets, count/fold marks, deltas, ids."""
    out = {}
    for sku, twin in state.shard.twins.items():
        sites = {
            site: (
                b.on_hand,
                b.receiving,
                b.reserved,
                b.picked,
                b.quarantined,
                b.in_transit,
                b.last_event_at,
                b.count_at,
                b.count_id,
                b.fold_at,
                b.list_after,
                list(b.deltas),
                b.alert_mask,
            )
            for site, b in twin.sites.items()
        }
        out[sku] = (twin.version, twin.max_at, list(twin._id_set), twin.duplicates, sites)
    return out


def _scripted(master, n: int) -> list:
    """`n` scripted events at microsecond times, the precision the packed deltas must keep."""
    events = script_events(master, random.Random(11), n, skus=20)
    return [
        msgspec.structs.replace(e, occurred_at=e.occurred_at + timedelta(microseconds=i * 7919))
        for i, e in enumerate(events)
    ]


def test_a_restored_shard_is_the_same_state_and_applies_the_rest_identically() -> None:
    master = generate_master_data(sites=4, skus=40, seed=3)
    events = _scripted(master, 3000)
    first, rest = events[:2000], events[2000:]

    original = _state_after(first, master)
    rules = original.shard.rules
    restored = ShardState.loads(original.dumps(), rules)
    assert _fingerprint(restored) == _fingerprint(original)
    assert any(b.deltas for t in original.shard.twins.values() for b in t.sites.values())

    # going on from the snapshot, with the tail resent as Bytewax does after a resume
    for state in (original, restored):
        for event in rest + first[-300:]:
            state.shard.apply(event, NOW)
    assert _fingerprint(restored) == _fingerprint(original)
    assert restored.shard.duplicates == original.shard.duplicates >= 300


def test_the_packed_snapshot_is_smaller_and_still_plain_pickle_to_read() -> None:
    master = generate_master_data(sites=4, skus=40, seed=3)
    state = _state_after(script_events(master, random.Random(12), 2000, skus=20), master)
    state.shard.rules = None  # as ShardState.dumps does
    packed = snapshots.dumps(state)
    plain = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    assert len(packed) < len(plain)
    assert _fingerprint(pickle.loads(packed)) == _fingerprint(pickle.loads(plain))


def test_a_snapshot_naming_a_moved_class_still_loads() -> None:
    # Snapshots written before SitePartial moved from dataflows/ to twin/ name the old path.
    partial = SitePartial("DC-EAST")
    partial.events = 7
    # protocol 2 names a class as plain text lines (no length prefix), so it can be renamed
    data = pickle.dumps(partial, protocol=2)
    old = data.replace(b"twin.site_stats", b"dataflows.site_stats")
    assert old != data
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(old)
    restored = snapshots.loads(old)
    assert isinstance(restored, SitePartial)
    assert (restored.site, restored.events) == ("DC-EAST", 7)


def test_a_snapshot_with_the_earlier_packing_of_deltas_still_loads() -> None:
    master = generate_master_data(sites=4, skus=40, seed=3)
    state = _state_after(_scripted(master, 2000), master)

    def earlier(b: SiteBuckets) -> tuple[object, tuple[object, ...]]:
        # how a site's deltas were packed until the fourth session: timestamps and quantities
        times = array("d", (at.timestamp() for at, _ in b.deltas))
        qtys = array("q", (qty for _, qty in b.deltas))
        return snapshots._restore_buckets, (
            snapshots._BUCKETS.names,
            snapshots._BUCKETS.get(b),
            times,
            qtys,
        )

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {SiteBuckets: earlier, SkuTwin: snapshots._reduce_twin}
    pickler.dump(state)
    assert any(b.deltas for t in state.shard.twins.values() for b in t.sites.values())
    assert _fingerprint(snapshots.loads(buffer.getvalue())) == _fingerprint(state)
