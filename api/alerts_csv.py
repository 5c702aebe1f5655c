"""Alerts as CSV: one row per alert with its case, for spreadsheets and ticketing imports."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS = (
    "id",
    "kind",
    "severity",
    "condition",
    "case_state",
    "assignee",
    "value_at_risk",
    "sku",
    "site",
    "detected_at",
    "explanation",
)


def alerts_csv(items: Sequence[Mapping[str, Any]]) -> str:
    """`items` are alerts as the list route gives them (with `case` and `value_at_risk`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for item in items:
        case = item.get("case") or {}
        value = item.get("value_at_risk")
        writer.writerow(
            (
                item["id"],
                item["kind"],
                item["severity"],
                item.get("condition", item.get("state", "")),
                case.get("state", ""),
                case.get("assignee") or "",
                "" if value is None else f"{value:.2f}",
                item.get("sku") or "",
                item.get("site") or "",
                item["detected_at"],
                item["explanation"],
            )
        )
    return out.getvalue()
