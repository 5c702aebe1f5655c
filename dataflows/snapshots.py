"""How a twin shard's state becomes a Bytewax snapshot, and back.

A snapshot stops the flow while it is taken (a latency spike every snapshot interval), so
the two most numerous objects of the state are written without pickle's per-attribute
dictionaries: each `SiteBuckets` and each `SkuTwin` as one tuple of its slot values (names
once per object type in the pickle's memo). The core already keeps its bulk in flat integer
arrays (a SKU's remembered event ids, a site's on-hand deltas since its count), which pickle
as their raw bytes. Every other attribute is pickled as it is, so slots added to the core
later are kept without a change here, and a slot newer than a snapshot resumes with its
default. The core (`twin/`) stays free of any snapshot concern.

Snapshots written by earlier layouts still restore (`_restore_packed_buckets`,
`_restore_buckets`, `_restore_twin` are the names they call):

* a site's times become integer microseconds, its episode numbers one packed int; its deltas
  (msgpack `(datetime, qty)` pairs, or POSIX timestamps and quantities in two arrays) one
  interleaved array;
* a SKU's event ids (a msgpack list of strings, no times, no content) are remembered with the
  SKU's newest event time, so each stays for at least one horizon after the upgrade, and an
  unknown content fingerprint: a resend of one is a duplicate whatever it carries;
* the count bounds of the old `PositionConfig` are dropped, its horizon kept.
"""

from __future__ import annotations

import io
import pickle
from array import array
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import msgspec

from twin.position import (
    BEGINNING,
    NEVER,
    UNKNOWN_FINGERPRINT,
    PositionConfig,
    SiteBuckets,
    SkuTwin,
    id_key,
    packed_episodes,
    to_us,
)

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_ids_decode = msgspec.msgpack.Decoder(list[str]).decode
_deltas_decode = msgspec.msgpack.Decoder(list[tuple[datetime, int]]).decode
_fromtimestamp = datetime.fromtimestamp


class _Slots:
    """Reads every slot of a class in one C call."""

    def __init__(self, cls: type) -> None:
        # a class compiled by mypyc (see setup.py) lists its attributes in __mypyc_attrs__
        names = getattr(cls, "__mypyc_attrs__", None) or cls.__slots__  # type: ignore[attr-defined]
        self.names = tuple(n for n in names if n != "__dict__")
        self.get = attrgetter(*self.names)


_BUCKETS = _Slots(SiteBuckets)
_TWIN = _Slots(SkuTwin)


def _reduce_site(b: SiteBuckets) -> tuple[Any, tuple[Any, ...]]:
    return _restore_site, (_BUCKETS.names, _BUCKETS.get(b))


def _restore_site(names: tuple[str, ...], values: tuple[Any, ...]) -> SiteBuckets:
    b = SiteBuckets()  # defaults first: a slot newer than the snapshot keeps its default
    for name, value in zip(names, values, strict=True):
        setattr(b, name, value)
    return b


def _reduce_sku(twin: SkuTwin) -> tuple[Any, tuple[Any, ...]]:
    return _restore_sku, (_TWIN.names, _TWIN.get(twin))


def _restore_sku(names: tuple[str, ...], values: tuple[Any, ...]) -> SkuTwin:
    state = dict(zip(names, values, strict=True))
    twin = SkuTwin(state["sku"], state["config"])  # defaults first, as for a site
    for name, value in state.items():
        setattr(twin, name, value)
    return twin


# -- earlier layouts -------------------------------------------------------------------
# A site's times were datetimes (BEGINNING before any) under these names.
_SITE_TIMES = {"count_at": "count_us", "fold_at": "fold_us", "list_after": "list_after"}


def _old_site(names: tuple[str, ...], values: tuple[Any, ...]) -> SiteBuckets:
    b = SiteBuckets()
    for name, value in zip(names, values, strict=True):
        if name in _SITE_TIMES:
            setattr(b, _SITE_TIMES[name], NEVER if value == BEGINNING else to_us(value))
        elif name == "episodes":
            b.episodes = packed_episodes(value)
        else:
            setattr(b, name, value)
    return b


def _interleaved(pairs: list[tuple[datetime, int]]) -> array[int] | None:
    if not pairs:
        return None
    deltas: array[int] = array("q")
    for at, qty in pairs:
        deltas.append(to_us(at))
        deltas.append(qty)
    return deltas


def _restore_packed_buckets(
    names: tuple[str, ...], values: tuple[Any, ...], deltas: bytes
) -> SiteBuckets:
    """A site written with its deltas as msgpack `(datetime, qty)` pairs."""
    b = _old_site(names, values)
    b.deltas = _interleaved(_deltas_decode(deltas))
    return b


def _restore_buckets(
    names: tuple[str, ...], values: tuple[Any, ...], times: array[float], qtys: array[int]
) -> SiteBuckets:
    """A site written with its deltas as POSIX timestamps and quantities."""
    b = _old_site(names, values)
    pairs = [(_fromtimestamp(t, UTC), qty) for t, qty in zip(times, qtys, strict=True)]
    b.deltas = _interleaved(pairs)
    return b


def _restore_twin(names: tuple[str, ...], values: tuple[Any, ...], ids: bytes) -> SkuTwin:
    """A SKU written with its event ids as a msgpack list of strings (and count bounds)."""
    state = dict(zip(names, values, strict=True))
    config = state.get("config")
    twin = SkuTwin(state["sku"], config if isinstance(config, PositionConfig) else None)
    for name in ("baselines", "duplicates", "expired", "last_count", "sites", "version"):
        if name in state:
            setattr(twin, name, state[name])
    twin.superseded_counts = state.get("superseded_counts", 0)
    max_at = state.get("max_at", BEGINNING)
    twin.max_us = NEVER if max_at == BEGINNING else to_us(max_at)
    for event_id in _ids_decode(ids):
        twin.remember(id_key(event_id), max(twin.max_us, 0), UNKNOWN_FINGERPRINT)
    return twin


_DISPATCH = {SiteBuckets: _reduce_site, SkuTwin: _reduce_sku}


def dumps(state: object) -> bytes:
    """Pickle `state`, each site and SKU as one tuple of its slot values."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=_PROTOCOL)
    pickler.dispatch_table = _DISPATCH  # type: ignore[assignment]
    pickler.dump(state)
    return buffer.getvalue()


# Classes that moved module since a release whose snapshots may still be on disk: a flow
# resumed after an upgrade finds them under their new name.
MOVED: dict[tuple[str, str], tuple[str, str]] = {
    ("dataflows.site_stats", "SitePartial"): ("twin.site_stats", "SitePartial"),
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        module, name = MOVED.get((module, name), (module, name))
        return super().find_class(module, name)


def loads(data: bytes) -> Any:
    """Read back what `dumps` (or a plain pickle, or an earlier layout) wrote."""
    return _Unpickler(io.BytesIO(data)).load()
