"""Alert routes: the list of alerts as cases, one case with its trail, operators' actions, and a
WebSocket of case changes (viewer reads, operator acts)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, WebSocket
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from api.alert_cases import CaseBook, CaseFilter, InvalidCursor, actor_name
from api.alerts_csv import alerts_csv
from api.auth import Role
from api.deps import Operator, State, Viewer, get_state
from api.msgspec_response import MsgspecResponse
from api.problems import FieldProblem, NotFound, problem_response, problem_responses
from api.schemas import AlertModel
from api.ws_auth import Disconnected, admit_websocket, receive_within, release_websocket
from twin.alert_cases import (
    AlertCase,
    CaseAction,
    CaseActionKind,
    CaseState,
    InvalidAction,
    apply_action,
    case_encoder,
)

DEFAULT_PAGE, MAX_PAGE = 100, 1000

router = APIRouter(prefix="/v1", tags=["alerts"], responses=problem_responses(401, 403, 422))

AlertKindParam = Literal[
    "LOW_STOCK",
    "OVER_ALLOCATION",
    "NEGATIVE_ON_HAND",
    "STALE_FEED",
    "SUSPECTED_SYNC_GAP",
    "COUNT_DISCREPANCY",
    "ANOMALY",
]
# the case states, "all", and "cleared" (alerts whose condition the twin saw end, any case)
StateParam = Literal["open", "acknowledged", "snoozed", "resolved", "cleared", "all"]


@dataclass
class AlertCases:
    """What the alert routes share in one app: the case book and the topic cases go to."""

    book: CaseBook
    topic: str


def get_cases(connection: HTTPConnection) -> AlertCases:
    return connection.app.state.alert_cases  # type: ignore[no-any-return]


Cases = Annotated[AlertCases, Depends(get_cases)]


class ActionRequest(BaseModel):
    """An operator's action on a case."""

    model_config = ConfigDict(extra="forbid")

    action: CaseActionKind
    assignee: str | None = Field(default=None, description="assign: the person's name.")
    comment: str | None = Field(default=None, description="Any action may carry a comment.")
    until: datetime | None = Field(default=None, description="snooze: until when (with a zone).")


class TrailEntryModel(BaseModel):
    at: datetime
    who: str = Field(description="The name the caller's token is recorded under.")
    action: CaseActionKind
    state: CaseState = Field(description="The case's state after the action.")
    assignee: str | None = None
    comment: str | None = None
    until: datetime | None = None


class CaseModel(BaseModel):
    state: CaseState = Field(description="A snooze that ran out reads open.")
    assignee: str | None = None
    snoozed_until: datetime | None = None
    version: int = Field(description="How many actions the case has had.")
    updated_at: datetime | None = None
    trail: list[TrailEntryModel] | None = Field(
        default=None, description="Every action, oldest first (one alert's routes only)."
    )


class AlertCaseModel(AlertModel):
    condition: Literal["raised", "cleared"] = Field(
        description="The twin's side: raised, or cleared once the condition ended."
    )
    value_at_risk: float | None = Field(description="A count discrepancy's value; else null.")
    case: CaseModel


class AlertCaseListModel(BaseModel):
    alerts: list[AlertCaseModel]
    next_cursor: str | None
    total: int = Field(description="How many alerts match the filters, over all pages.")
    you: str = Field(description="The name the caller's actions are recorded under.")
    as_of: datetime = Field(description="The twin's clock (snooze times are on it).")


@router.get(
    "/alerts",
    response_model=AlertCaseListModel,
    summary="Alerts as cases: filtered, most severe and most valuable first, a page at a time",
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": (
                "`alerts` (each with its `case`), `next_cursor`, `total`, `you` (the name "
                "the caller's actions are recorded under) and `as_of` (the twin's clock). "
                "With `Accept: text/csv`, one row per alert; the next page's cursor is in "
                "`X-Next-Cursor` and `Link`."
            ),
        }
    },
)
def list_alerts(
    request: Request,
    principal: Viewer,
    cases: Cases,
    app_state: State,
    state: Annotated[
        StateParam,
        Query(description="Case state (a lapsed snooze reads open); `cleared`: condition over."),
    ] = "open",
    assignee: Annotated[str | None, Query(max_length=128)] = None,
    mine: Annotated[bool, Query(description="Only cases assigned to the caller.")] = False,
    unassigned: Annotated[bool, Query(description="Only cases nobody is assigned to.")] = False,
    kind: AlertKindParam | None = None,
    site: Annotated[str | None, Query(max_length=128)] = None,
    sku: Annotated[str | None, Query(max_length=128)] = None,
    severity: Literal["info", "warning", "critical"] | None = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> Response:
    me = actor_name(principal)
    where = CaseFilter(
        state=None if state in ("all", "cleared") else state,  # type: ignore[arg-type]
        condition="cleared" if state == "cleared" else None,
        assignee=me if mine else assignee,
        unassigned=unassigned,
        kind=kind,
        site=site,
        sku=sku,
        severity=severity,
    )
    try:
        page = cases.book.list(where, limit=limit, cursor=cursor)
    except InvalidCursor as exc:
        return _invalid("cursor", "invalid_cursor", str(exc), cursor)
    if "text/csv" in request.headers.get("accept", ""):
        headers = {}
        if page.next_cursor is not None:
            next_url = request.url.include_query_params(cursor=page.next_cursor)
            headers = {"X-Next-Cursor": page.next_cursor, "Link": f'<{next_url}>; rel="next"'}
        return Response(alerts_csv(page.items), media_type="text/csv", headers=headers)
    return MsgspecResponse(
        {
            "alerts": page.items,
            "next_cursor": page.next_cursor,
            "total": page.total,
            "you": me,
            "as_of": app_state.clock(),  # the twin's clock, which snooze times are on
        }
    )


@router.get(
    "/alerts/{alert_id}",
    response_model=AlertCaseModel,
    summary="One alert with its case and audit trail",
    responses=problem_responses(404),
)
def get_alert(alert_id: str, _: Viewer, cases: Cases) -> MsgspecResponse:
    item = cases.book.item(alert_id, with_trail=True)
    if item is None:
        raise NotFound(f"no alert {alert_id!r}")
    return MsgspecResponse(item)


@router.post(
    "/alerts/{alert_id}/actions",
    response_model=AlertCaseModel,
    summary="Act on a case: acknowledge, assign, comment, snooze, resolve or reopen",
    responses=problem_responses(400, 404, 503),
)
async def act_on_alert(
    alert_id: str, body: ActionRequest, principal: Operator, state: State, cases: Cases
) -> Response:
    book = cases.book
    case = book.case_of(alert_id)
    if case is None:
        raise NotFound(f"no alert {alert_id!r}")
    action = CaseAction(
        action=body.action,
        who=actor_name(principal),
        at=state.clock(),
        assignee=body.assignee,
        comment=body.comment,
        until=body.until,
    )
    try:
        updated: AlertCase = apply_action(case, action)
    except InvalidAction as exc:
        return _invalid(exc.field, "invalid_action", str(exc), body.action)
    # durable on the compacted topic before it is shown; every replica (this one too) reads it
    await state.producer.send(cases.topic, alert_id.encode(), case_encoder.encode(updated))
    book.apply_case(updated)  # read-your-writes here, before the reader brings it back
    return MsgspecResponse(book.item(alert_id, with_trail=True))


@router.websocket("/alerts/stream")
async def stream_cases(websocket: WebSocket) -> None:
    """Every case change as `{"type": "case", "item": <the alert with its case>}` (viewer)."""
    state = get_state(websocket)
    principal = await admit_websocket(websocket, state, Role.VIEWER, "stream")
    if principal is None:
        return
    book = get_cases(websocket).book
    queue = book.watch()
    max_bytes = state.settings.ws_max_message_bytes
    reader = asyncio.create_task(_until_disconnected(websocket, max_bytes))
    try:
        while not reader.done():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            await websocket.send_json(getter.result())
    except (OSError, RuntimeError):
        pass  # the client went away mid-send
    finally:
        book.unwatch(queue)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        release_websocket(state, principal, "stream")


async def _until_disconnected(websocket: WebSocket, max_bytes: int) -> None:
    """Reads (and ignores) client messages until it goes away or breaks the size limit."""
    with contextlib.suppress(Disconnected, Exception):
        while True:
            await receive_within(websocket, max_bytes)


def _invalid(field: str, code: str, message: str, value: Any) -> Response:
    return problem_response(
        422,
        "Invalid request",
        message,
        errors=[FieldProblem(field=field, code=code, message=message, value=value)],
    )
