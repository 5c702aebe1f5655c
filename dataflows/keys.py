"""How the twin flow routes events to Bytewax keys: a stable shard of the SKU.

Bytewax hashes keys to workers; a key must mean the same shard in every process and on every
restart (recovery state is stored per key), so Python's salted `hash()` is out and CRC-32 is in.
"""

from __future__ import annotations

import zlib


def shard_of(sku: str, shards: int) -> int:
    """The shard (0 ≤ n < shards) that owns `sku`; stable across processes and restarts."""
    return zlib.crc32(sku.encode()) % shards


def shard_key(shard: int) -> str:
    """The Bytewax state key of a shard; zero-padded so keys sort as numbers."""
    return f"shard-{shard:04d}"


def all_shard_keys(shards: int) -> list[str]:
    return [shard_key(n) for n in range(shards)]
