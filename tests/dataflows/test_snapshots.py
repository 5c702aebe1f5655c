"""The shard snapshot codec: what resumes is the same state, and goes on the same way."""

from __future__ import annotations

import copyreg
import io
import pickle
import random
from array import array
from datetime import UTC, datetime, timedelta
from typing import get_args

import msgspec
import pytest

from dataflows import snapshots
from dataflows.shard_logic import ShardFactory, ShardState
from tests.dataflows.scripted import script_events
from twin.masterdata_gen import generate_master_data
from twin.position import (
    BEGINNING,
    NEVER,
    PositionConfig,
    SiteBuckets,
    SkuTwin,
    episode,
    from_us,
)
from twin.site_stats import SitePartial
from twin.wire import AlertKind

NOW = datetime(2026, 11, 16, 18, 0, tzinfo=UTC)


def _state_after(events, master) -> ShardState:
    state = ShardFactory(master).new()
    for event in events:
        state.shard.apply(event, NOW)
        state.windows.add(event)
    return state


def _fingerprint(state: ShardState, *, id_meta: bool = True) -> dict:
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
                b.count_us,
                b.count_id,
                b.fold_us,
                b.list_after,
                None if b.deltas is None else list(b.deltas),
                b.alert_mask,
                b.episodes,
            )
            for site, b in twin.sites.items()
        }
        ids = (list(twin._id_keys), list(twin._id_meta) if id_meta else None)
        out[sku] = (twin.version, twin.max_us, ids, twin.duplicates, sites)
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


def _times(us: int) -> datetime:
    return BEGINNING if us == NEVER else from_us(us)


def _pairs(b: SiteBuckets) -> list[tuple[datetime, int]]:
    deltas = b.deltas if b.deltas is not None else array("q")
    return [(from_us(t), q) for t, q in zip(deltas[::2], deltas[1::2], strict=True)]


# The earlier layout: a site's times as datetimes, its deltas as (datetime, qty) pairs; a
# SKU's ids as strings, its horizon as a timedelta, count bounds in PositionConfig.
_OLD_SITE = (
    "alert_mask",
    "atp_floor",
    "count_at",
    "count_id",
    "episodes",
    "fold_at",
    "in_transit",
    "last_event_at",
    "list_after",
    "on_hand",
    "picked",
    "quarantined",
    "receiving",
    "reorder_point",
    "reserved",
    "rules_token",
)
_OLD_SKU = (
    "_horizon",
    "_ids_limit",
    "_max_deltas",
    "baselines",
    "config",
    "duplicates",
    "expired",
    "last_count",
    "max_at",
    "sites",
    "sku",
    "superseded_counts",
    "version",
)


def _earlier_layout(state: ShardState, ids: dict[str, list[str]], packed_deltas: bool) -> bytes:
    """`state` pickled as the layout before event-time exactness wrote it."""

    def site(b: SiteBuckets) -> tuple[object, tuple[object, ...]]:
        old = {name: getattr(b, name, None) for name in _OLD_SITE}
        old.update(count_at=_times(b.count_us), fold_at=_times(b.fold_us))
        kinds = {kind: episode(b, kind) for kind in get_args(AlertKind)}
        old["episodes"] = {kind: n for kind, n in kinds.items() if n} or None
        old["list_after"] = _times(b.list_after)
        values = tuple(old[name] for name in _OLD_SITE)
        pairs = _pairs(b)
        if packed_deltas:
            return snapshots._restore_packed_buckets, (
                _OLD_SITE,
                values,
                msgspec.msgpack.encode(pairs),
            )
        times = array("d", (at.timestamp() for at, _ in pairs))
        qtys = array("q", (qty for _, qty in pairs))
        return snapshots._restore_buckets, (_OLD_SITE, values, times, qtys)

    def sku(twin: SkuTwin) -> tuple[object, tuple[object, ...]]:
        horizon = timedelta(seconds=twin.config.horizon_s)
        old = {
            "_horizon": horizon,
            "_ids_limit": 320,
            "_max_deltas": 64,
            "max_at": _times(twin.max_us),
        }
        values = tuple(old[n] if n in old else getattr(twin, n) for n in _OLD_SKU)
        return snapshots._restore_twin, (_OLD_SKU, values, msgspec.msgpack.encode(ids[twin.sku]))

    def config(c: PositionConfig) -> tuple[object, ...]:
        horizon = timedelta(seconds=c.horizon_s)
        return copyreg.__newobj__, (PositionConfig,), [256, c.horizon_s, 64, 320, horizon]

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {SiteBuckets: site, SkuTwin: sku, PositionConfig: config}
    state.shard.rules = None  # as ShardState.dumps does
    pickler.dump(state)
    return buffer.getvalue()


@pytest.mark.parametrize("packed_deltas", [True, False], ids=["msgpack-deltas", "array-deltas"])
def test_a_snapshot_of_the_earlier_layout_restores_and_goes_on_the_same_way(
    packed_deltas: bool,
) -> None:
    master = generate_master_data(sites=4, skus=40, seed=3)
    events = _scripted(master, 3000)
    first, rest = events[:2000], events[2000:]
    original = _state_after(first, master)
    rules = original.shard.rules
    ids: dict[str, list[str]] = {}
    for event in first:
        ids.setdefault(event.sku, []).append(event.event_id)
    assert any(b.deltas for t in original.shard.twins.values() for b in t.sites.values())
    assert any(b.episodes for t in original.shard.twins.values() for b in t.sites.values())

    restored = snapshots.loads(_earlier_layout(original, ids, packed_deltas))
    restored.shard.rules = original.shard.rules = rules
    assert isinstance(restored.shard.twins["SKU-00001"].config, PositionConfig)
    assert _fingerprint(restored, id_meta=False) == _fingerprint(original, id_meta=False)

    # going on, with the tail resent as Bytewax does after a resume: the old ids dedupe
    for state in (original, restored):
        for event in rest + first[-300:]:
            state.shard.apply(event, NOW)
    assert _fingerprint(restored, id_meta=False) == _fingerprint(original, id_meta=False)
    assert restored.shard.duplicates == original.shard.duplicates >= 300
    assert restored.shard.conflicts == 0
