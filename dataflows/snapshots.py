"""How a twin shard's state becomes a Bytewax snapshot, and back.

Plain pickle is correct but slow on two parts of the state, and a snapshot stops the flow
while it is taken (a latency spike every snapshot interval). Measured after 1M events over
5,000 SKUs x 6 sites: 1.95 s and 58 MB for the 64 shards, of which 1.0 s went to the on-hand
deltas each site keeps for late counts (`(datetime, qty)` pairs: a datetime costs a reduce
call and two objects each) and 0.4 s to the dedupe event ids of each SKU (a dict of strings).

This pickler writes exactly the same objects, but packs those two parts: each site's deltas
and each SKU's ids as one msgpack blob each (snapshots that packed the deltas as two arrays,
POSIX timestamps and quantities, still load). Every other attribute is pickled as it is, so
slots added to the core later are kept without a change here. The core (`twin/`) stays free
of any snapshot concern.
"""

from __future__ import annotations

import io
import pickle
from array import array
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import msgspec

from twin.position import SiteBuckets, SkuTwin

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_ids_encode = msgspec.msgpack.Encoder().encode
_ids_decode = msgspec.msgpack.Decoder(list[str]).decode
_deltas_encode = msgspec.msgpack.Encoder().encode
_deltas_decode = msgspec.msgpack.Decoder(list[tuple[datetime, int]]).decode
_fromtimestamp = datetime.fromtimestamp


class _Slots:
    """Reads and writes every slot of a class but one, in one C call each way."""

    def __init__(self, cls: type, packed: str) -> None:
        # a class compiled by mypyc (see setup.py) lists its attributes in __mypyc_attrs__
        names = getattr(cls, "__mypyc_attrs__", None) or cls.__slots__  # type: ignore[attr-defined]
        self.names = tuple(n for n in names if n != packed)
        self.get = attrgetter(*self.names)

    def restore(self, obj: object, values: tuple[Any, ...]) -> None:
        for name, value in zip(self.names, values, strict=True):
            setattr(obj, name, value)


_BUCKETS = _Slots(SiteBuckets, "deltas")
_TWIN = _Slots(SkuTwin, "_id_set")


def _reduce_buckets(b: SiteBuckets) -> tuple[Any, tuple[Any, ...]]:
    # msgspec writes the (datetime, qty) pairs in one C call, each time exactly (msgpack's
    # timestamp type): ten times faster than converting each to a float timestamp was
    return _restore_packed_buckets, (_BUCKETS.names, _BUCKETS.get(b), _deltas_encode(b.deltas))


def _restore_packed_buckets(
    names: tuple[str, ...], values: tuple[Any, ...], deltas: bytes
) -> SiteBuckets:
    b = _buckets(names, values)
    b.deltas = _deltas_decode(deltas)
    return b


def _restore_buckets(
    names: tuple[str, ...], values: tuple[Any, ...], times: array, qtys: array
) -> SiteBuckets:
    """Snapshots written before the deltas were msgpack: POSIX timestamps and quantities."""
    b = _buckets(names, values)
    b.deltas = list(zip(map(_from_utc_timestamp, times), qtys, strict=True))
    return b


def _buckets(names: tuple[str, ...], values: tuple[Any, ...]) -> SiteBuckets:
    b = SiteBuckets()  # defaults first: a slot newer than the snapshot keeps its default
    for name, value in zip(names, values, strict=True):
        setattr(b, name, value)
    return b


def _reduce_twin(twin: SkuTwin) -> tuple[Any, tuple[Any, ...]]:
    ids = _ids_encode(list(twin._id_set))
    return _restore_twin, (_TWIN.names, _TWIN.get(twin), ids)


def _restore_twin(names: tuple[str, ...], values: tuple[Any, ...], ids: bytes) -> SkuTwin:
    twin = SkuTwin.__new__(SkuTwin)
    for name, value in zip(names, values, strict=True):
        setattr(twin, name, value)
    twin._id_set = dict.fromkeys(_ids_decode(ids))
    return twin


def _from_utc_timestamp(t: float) -> datetime:
    return _fromtimestamp(t, UTC)


_DISPATCH = {SiteBuckets: _reduce_buckets, SkuTwin: _reduce_twin}


def dumps(state: object) -> bytes:
    """Pickle `state` with the packed encodings of site deltas and SKU dedupe ids."""
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
    """Read back what `dumps` (or a plain pickle) wrote; the packing rebuilds itself."""
    return _Unpickler(io.BytesIO(data)).load()
