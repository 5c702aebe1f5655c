"""Positions as CSV: one row per SKU-site, for spreadsheets and ERP imports."""

from __future__ import annotations

import csv
import io

from twin.wire import Position

COLUMNS = (
    "sku",
    "site",
    "on_hand",
    "receiving",
    "reserved",
    "picked",
    "quarantined",
    "in_transit",
    "atp",
    "fresh",
    "last_event_at",
)


def positions_csv(positions: list[Position], site: str | None = None) -> str:
    """The header, then each position's sites in site order (only `site` when given)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for position in positions:
        for name, at_site in sorted(position.sites.items()):
            if site is not None and name != site:
                continue
            seen = at_site.last_event_at
            writer.writerow(
                (
                    position.sku,
                    name,
                    at_site.on_hand,
                    at_site.receiving,
                    at_site.reserved,
                    at_site.picked,
                    at_site.quarantined,
                    at_site.in_transit,
                    at_site.atp,
                    "true" if at_site.fresh else "false",
                    seen.isoformat() if seen is not None else "",
                )
            )
    return out.getvalue()
