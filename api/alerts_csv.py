"""Alerts as CSV: one row per alert, for spreadsheets and ticketing imports."""

from __future__ import annotations

import csv
import io

from twin.wire import Alert

COLUMNS = ("id", "kind", "severity", "state", "sku", "site", "detected_at", "explanation")


def alerts_csv(alerts: list[Alert]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for alert in alerts:
        writer.writerow(
            (
                alert.id,
                alert.kind,
                alert.severity,
                alert.state,
                alert.sku or "",
                alert.site or "",
                alert.detected_at.isoformat(),
                alert.explanation,
            )
        )
    return out.getvalue()
