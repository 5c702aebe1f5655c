"""Drill-down and history (viewer): a SKU-site's ledger and a SKU's positions over time,
read from the history store that `invtwin history` keeps (`history/`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from api.deps import Viewer
from api.msgspec_response import MsgspecResponse
from api.problems import ApiError, NotFound, problem_responses
from history.csv_out import history_csv, ledger_csv
from history.queries import history, ledger
from history.settings import HistorySettings
from history.store import HistoryStore

_FIRST = datetime(1970, 1, 1, tzinfo=UTC)
_LAST = datetime(2100, 1, 1, tzinfo=UTC)

router = APIRouter(prefix="/v1", tags=["history"], responses=problem_responses(401, 403))


class HistoryUnavailable(ApiError):
    status, title = 503, "History store unavailable"


class InvalidRange(ApiError):
    status, title = 422, "Invalid query"


def _settings(request: Request) -> HistorySettings:
    settings: HistorySettings = request.app.state.history_settings
    return settings


@contextmanager
def _store(request: Request) -> Iterator[HistoryStore]:
    path = _settings(request).db_path()
    if not path.exists():
        # nothing recorded yet is "no history", not a server fault
        raise NotFound(f"no history database at {path}: is `invtwin history` running?")
    try:
        store = HistoryStore(path, readonly=True)
    except sqlite3.Error as exc:
        raise HistoryUnavailable(f"history database {path}: {exc}") from exc
    try:
        yield store
    except sqlite3.Error as exc:  # e.g. the writer has not created its tables yet
        raise HistoryUnavailable(f"history database {path}: {exc}") from exc
    finally:
        store.close()


def _csv_wanted(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "")


def _csv_doc(what: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": what}}


@router.get(
    "/skus/{sku}/sites/{site}/ledger",
    summary="Why this figure: the latest count and every event after it",
    responses={
        **problem_responses(404, 503),
        **_csv_doc(
            "The ledger. `opening` (buckets before the latest count), `count`, `entries` (each "
            "event applied after it, with source, feed, occurred/recorded/applied times and its "
            "effect on each bucket), `carried` (what retained history does not explain) add up to "
            "`totals`, which equals `position`. `open_reservations` and `in_transit` list the "
            "entries that make up those balances; `pending` are logged events not yet in a "
            "published position. With `Accept: text/csv`, one row each."
        ),
    },
)
def get_ledger(sku: str, site: str, request: Request, _: Viewer) -> Response:
    with _store(request) as store:
        result = ledger(store, sku, site, _settings(request).flow_horizon_s)
    if result is None:
        raise NotFound(f"no history for SKU {sku!r} at site {site!r}")
    if _csv_wanted(request):
        return Response(ledger_csv(result), media_type="text/csv")
    return MsgspecResponse(result)


@router.get(
    "/skus/{sku}/history",
    summary="A SKU's positions over time",
    responses={
        **problem_responses(404, 422, 503),
        **_csv_doc(
            "`points`: one per published position and site, oldest first (`from` inclusive, `to` "
            "exclusive; by default everything retained). With `Accept: text/csv`, one row each."
        ),
    },
)
def get_history(
    sku: str,
    request: Request,
    _: Viewer,
    site: str | None = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
) -> Response:
    # Without bounds, everything retained (TWIN_HISTORY_RETENTION_S bounds it)
    end = _aware(end) if end is not None else _LAST
    start = _aware(start) if start is not None else _FIRST
    if start >= end:
        raise InvalidRange("`from` must be before `to`")
    with _store(request) as store:
        points = history(store, sku, site, start, end)
    if _csv_wanted(request):
        return Response(history_csv(points), media_type="text/csv")
    return MsgspecResponse({"sku": sku, "site": site, "from": start, "to": end, "points": points})


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
