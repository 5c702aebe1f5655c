"""The ledger and the history as CSV, for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from history.ledger import BUCKETS, Buckets, Ledger, LedgerEntry
from history.queries import HistoryPoint

LEDGER_COLUMNS = (
    "row",
    "event_id",
    "type",
    "site",
    "to_site",
    "qty",
    "source",
    "feed",
    "transfer_id",
    "ref",
    "occurred_at",
    "recorded_at",
    "applied_at",
    "status",
    *BUCKETS,
)
HISTORY_COLUMNS = ("as_of", "version", "site", *BUCKETS, "fresh")


def _iso(value: object) -> str:
    return "" if value is None else value.isoformat()  # type: ignore[attr-defined]


def _figures(row: str, buckets: Buckets) -> list[object]:
    return [row, *([""] * (len(LEDGER_COLUMNS) - 1 - len(BUCKETS))), *buckets.values()]


def _event(row: str, e: LedgerEntry) -> list[object]:
    return [
        row,
        e.event_id,
        e.type,
        e.site,
        e.to_site or "",
        e.qty,
        e.source,
        e.feed,
        e.transfer_id or "",
        e.ref or "",
        _iso(e.occurred_at),
        _iso(e.recorded_at),
        _iso(e.applied_at),
        e.status,
        *e.effect.values(),
    ]


def ledger_csv(ledger: Ledger) -> str:
    """opening, count, each entry, carried, total and position rows: the bucket columns of
    the rows before `total` add up to it, and `total` equals `position`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LEDGER_COLUMNS)
    writer.writerow(_figures("opening", ledger.opening))
    if ledger.count is not None:
        writer.writerow(_event("count", ledger.count))
    for entry in ledger.entries:
        writer.writerow(_event("entry", entry))
    writer.writerow(_figures("carried", ledger.carried))
    writer.writerow(_figures("total", ledger.totals))
    writer.writerow(_figures("position", ledger.position))
    for entry in ledger.pending:
        writer.writerow(_event("pending", entry))
    return out.getvalue()


def history_csv(points: Iterable[HistoryPoint]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for p in points:
        writer.writerow(
            [p.as_of.isoformat(), p.version, p.site, *(getattr(p, b) for b in BUCKETS), p.fresh]
        )
    return out.getvalue()
