"""The history database: canonical events, published positions and the consumer's offsets.

SQLite in WAL mode: one writer (the history consumer) and any number of readers in other
processes (API replicas) that never block it. Each consumed batch is written with the next
offsets of its partitions in ONE transaction, so after a crash the consumer resumes exactly
after the last batch it stored: nothing lost, nothing twice.

Rows keep the record's value as it was on the topic (the canonical JSON), next to the
columns the queries select on; times are integer microseconds since the epoch.
Why SQLite over DuckDB for this load: bench/history.py measures both (README, "History").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    sku TEXT NOT NULL,
    site TEXT NOT NULL,
    to_site TEXT,
    part INTEGER NOT NULL,
    off INTEGER NOT NULL,
    occurred_us INTEGER NOT NULL,
    applied_us INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_sku ON events (sku, part, off);
CREATE INDEX IF NOT EXISTS events_by_time ON events (occurred_us);
-- One row per SKU-site each time a published position changed that site's figures: a row
-- holds from its as_of until the next row of the same SKU-site.
CREATE TABLE IF NOT EXISTS site_positions (
    sku TEXT NOT NULL,
    site TEXT NOT NULL,
    as_of_us INTEGER NOT NULL,
    version INTEGER NOT NULL,
    on_hand INTEGER NOT NULL,
    receiving INTEGER NOT NULL,
    reserved INTEGER NOT NULL,
    picked INTEGER NOT NULL,
    quarantined INTEGER NOT NULL,
    in_transit INTEGER NOT NULL,
    atp INTEGER NOT NULL,
    fresh INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS site_positions_by_sku ON site_positions (sku, site, as_of_us);
CREATE INDEX IF NOT EXISTS site_positions_by_time ON site_positions (as_of_us);
-- The latest published position of each SKU, as published (what a ledger explains).
CREATE TABLE IF NOT EXISTS latest (
    sku TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    as_of_us INTEGER NOT NULL,
    body BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    part INTEGER NOT NULL,
    next INTEGER NOT NULL,
    PRIMARY KEY (topic, part)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class EventRow:
    """One record of the canonical events topic, as stored."""

    sku: str
    site: str
    to_site: str | None
    part: int
    off: int
    occurred_us: int
    applied_us: int  # the record's timestamp: when it was appended to the canonical log
    body: bytes


# sku, site, as_of_us, version, on_hand, receiving, reserved, picked, quarantined,
# in_transit, atp, fresh (0 or 1): the columns of `site_positions`
SiteRow = tuple[str, str, int, int, int, int, int, int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class LatestRow:
    """A SKU's newest published position, as published."""

    sku: str
    version: int
    as_of_us: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Batch:
    """What one transaction stores: rows, and the next offset of each (topic, partition)."""

    events: Sequence[EventRow]
    site_positions: Sequence[SiteRow]
    latest: Sequence[LatestRow]
    next_offsets: dict[tuple[str, int], int]


class HistoryStore:
    """One connection to the database; the writer opens it read-write, readers read-only."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a crash of the process loses nothing committed; a power cut may
            # lose the last transactions, offsets with them, so they are read again.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        self.db.execute("PRAGMA busy_timeout=5000")

    def close(self) -> None:
        self.db.close()

    # -- writing --------------------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        """Rows and offsets in one transaction."""
        with self.db:
            self.db.executemany(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (r.sku, r.site, r.to_site, r.part, r.off, r.occurred_us, r.applied_us, r.body)
                    for r in batch.events
                ],
            )
            self.db.executemany(
                "INSERT INTO site_positions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch.site_positions,
            )
            # a replayed or reordered older version never replaces a newer one
            self.db.executemany(
                "INSERT INTO latest VALUES (?, ?, ?, ?) ON CONFLICT (sku) DO UPDATE SET "
                "version = excluded.version, as_of_us = excluded.as_of_us, body = excluded.body "
                "WHERE excluded.version >= latest.version",
                [(r.sku, r.version, r.as_of_us, r.body) for r in batch.latest],
            )
            self.db.executemany(
                "INSERT INTO offsets VALUES (?, ?, ?) ON CONFLICT (topic, part) "
                "DO UPDATE SET next = excluded.next",
                [(t, p, n) for (t, p), n in batch.next_offsets.items()],
            )

    def clear(self) -> None:
        """Forget every row and offset (a rebuild from the earliest offsets follows)."""
        with self.db:
            for table in ("events", "site_positions", "latest", "offsets", "meta"):
                self.db.execute(f"DELETE FROM {table}")
        self.db.execute("VACUUM")

    def prune(self, retention_us: int) -> tuple[int, int]:
        """Drop events and positions older than `retention_us` of event time behind the
        newest stored; returns how many of each went."""
        with self.db:
            newest_event = self._max("SELECT max(occurred_us) FROM events")
            newest_position = self._max("SELECT max(as_of_us) FROM site_positions")
            events = positions = 0
            if newest_event is not None:
                cut = newest_event - retention_us
                events = self.db.execute(
                    "DELETE FROM events WHERE occurred_us < ?", (cut,)
                ).rowcount
                if events:
                    self._set_meta("events_pruned_before_us", cut)
            if newest_position is not None:
                cut = newest_position - retention_us
                # a SKU-site's newest row stays even when older than the window: it still
                # holds, and a chart of the window starts from it
                positions = self.db.execute(
                    "DELETE FROM site_positions AS old WHERE as_of_us < ? AND EXISTS ("
                    "SELECT 1 FROM site_positions AS new WHERE new.sku = old.sku AND "
                    "new.site = old.site AND new.as_of_us > old.as_of_us)",
                    (cut,),
                ).rowcount
        return events, positions

    def _max(self, sql: str) -> int | None:
        value = self.db.execute(sql).fetchone()[0]
        return None if value is None else int(value)

    def _set_meta(self, key: str, value: int) -> None:
        self.db.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- reading --------------------------------------------------------------------------

    def offsets(self) -> dict[tuple[str, int], int]:
        rows = self.db.execute("SELECT topic, part, next FROM offsets").fetchall()
        return {(topic, part): nxt for topic, part, nxt in rows}

    def sku_events(self, sku: str) -> list[tuple[int, bytes]]:
        """Every stored event of `sku` in the order the twin applied them (log order), as
        (applied_us, canonical JSON)."""
        rows: Iterable[tuple[int, bytes]] = self.db.execute(
            "SELECT applied_us, body FROM events WHERE sku = ? ORDER BY part, off", (sku,)
        )
        return list(rows)

    def latest_position(self, sku: str) -> bytes | None:
        row = self.db.execute("SELECT body FROM latest WHERE sku = ?", (sku,)).fetchone()
        return None if row is None else bytes(row[0])

    def site_positions(
        self, sku: str, site: str | None, start_us: int, end_us: int
    ) -> list[SiteRow]:
        """The SKU's site rows with `start_us <= as_of < end_us` (of `site` alone when given),
        after each site's last row before `start_us` (the figures that held at the start),
        in time order."""
        where, args = ("sku = ?", [sku]) if site is None else ("sku = ? AND site = ?", [sku, site])
        # SQLite's bare columns: with max(), they come from the row that holds the max
        before = [
            row[:-1]
            for row in self.db.execute(
                f"SELECT *, max(as_of_us) FROM site_positions WHERE {where} "
                "AND as_of_us < ? GROUP BY site",
                (*args, start_us),
            )
        ]
        inside = self.db.execute(
            f"SELECT * FROM site_positions WHERE {where} AND as_of_us >= ? AND as_of_us < ? "
            "ORDER BY as_of_us, version, site",
            (*args, start_us, end_us),
        ).fetchall()
        return sorted(before, key=lambda r: (r[2], r[3], r[1])) + inside

    def events_pruned_before_us(self) -> int | None:
        row = self.db.execute(
            "SELECT value FROM meta WHERE key = 'events_pruned_before_us'"
        ).fetchone()
        return None if row is None else int(row[0])

    def counts(self) -> tuple[int, int]:
        """(events, SKU-site position rows) stored."""
        events = self.db.execute("SELECT count(*) FROM events").fetchone()[0]
        positions = self.db.execute("SELECT count(*) FROM site_positions").fetchone()[0]
        return int(events), int(positions)
