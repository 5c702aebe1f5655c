"""`POST /v1/events`: governed ingest of canonical events into `feeds.api.v1`.

Order of checks: auth → rate limit (429) → body size (413) → validation by the twin core,
then against master data and the horizon (422, every error; `api.ingest_validation`) →
event ids (`api.event_index`: a replay is answered 202 without writing again, a conflict 409)
→ produce and await the broker's acknowledgement (202), or 503 with `Retry-After` when it
does not come in time (the event may have been written: the body says to retry with the
same id or key).
"""

from __future__ import annotations

import asyncio
import math
from typing import Annotated

import msgspec
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from api.auth import Principal
from api.deps import AppState, Ingester, State
from api.event_identity import business_fingerprint, event_id_for_key
from api.event_index import EventIdIndex
from api.problems import (
    ApiError,
    BrokerUnavailable,
    EventIdConflict,
    FieldProblem,
    PayloadTooLarge,
    TooManyRequests,
    problem_responses,
)
from api.schemas import AcceptedModel
from infra.topics import FEEDS_API
from twin.errors import FieldError, ValidationFailed
from twin.events import InventoryEvent
from twin.validation import decode_events

router = APIRouter(prefix="/v1", tags=["ingest"])

_encoder = msgspec.json.Encoder()

_EVENT_ARRAY_SCHEMA = {
    "oneOf": [
        {"$ref": "#/components/schemas/InventoryEvent"},
        {"type": "array", "items": {"$ref": "#/components/schemas/InventoryEvent"}},
    ]
}


@router.post(
    "/events",
    status_code=202,
    response_model=AcceptedModel,
    summary="Ingest one canonical event or an array of them",
    description=(
        "Validated by the twin core and against master data (unknown SKU, site or unit, a "
        "quantity not whole in base units, a time outside the event-time horizon or the sane "
        "range); 422 lists every error of every record. An event id already written with the "
        "same business content is a replay (202, not written again); with other content, 409. "
        "With `Idempotency-Key` (single event only) the event id is derived from the caller "
        "and the key (`idem-...`). 202 is sent only after the broker acknowledged every "
        "event; a 503 may have written them: retry with the same event id or key."
    ),
    responses=problem_responses(401, 403, 409, 413, 422, 429, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _EVENT_ARRAY_SCHEMA}},
        }
    },
)
async def post_events(
    request: Request,
    principal: Ingester,
    state: State,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)
    ] = None,
) -> Response:
    metrics = state.metrics
    try:
        wait_s = state.rate_limiter.check(principal.token)
        if wait_s > 0:
            raise TooManyRequests(
                "the rate limit of this token is exhausted",
                headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
            )
        body = await _read_limited(request, state.settings.ingest_max_body_bytes)
        accepted = await _accept(state, principal, body, idempotency_key)
    except ValidationFailed:
        metrics.ingest_requests.labels("invalid").inc()
        raise
    except ApiError as exc:
        metrics.ingest_requests.labels(f"http_{exc.status}").inc()
        metrics.ingest_errors.labels(type(exc).__name__).inc()
        raise
    metrics.ingest_requests.labels("accepted").inc()
    return Response(accepted, status_code=202, media_type="application/json")


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _accept(
    state: AppState, principal: Principal, body: bytes, idempotency_key: str | None
) -> bytes:
    events = decode_events(body)
    array = body.lstrip()[:1] == b"["
    limit = state.settings.ingest_max_events
    if len(events) > limit:
        raise PayloadTooLarge(f"{len(events)} events in one request; at most {limit}")
    wait_s = state.event_rate_limiter.check(principal.token, len(events))
    if wait_s > 0:
        raise TooManyRequests(
            "the event rate limit of this token is exhausted",
            headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
        )
    if idempotency_key is not None:
        if len(events) != 1:
            raise ValidationFailed(
                [
                    FieldError(
                        field="Idempotency-Key",
                        code="single_event_only",
                        message="Idempotency-Key applies to a single event, not an array",
                    )
                ]
            )
        event_id = event_id_for_key(principal.token, idempotency_key)
        events = [msgspec.structs.replace(events[0], event_id=event_id)]
    errors = state.ingest_checker.errors(events, array=array)
    if errors:
        raise ValidationFailed(errors)
    await _write_once(state, events, array=array)
    return _encoder.encode({"accepted": len(events), "event_ids": [e.event_id for e in events]})


async def _write_once(state: AppState, events: list[InventoryEvent], *, array: bool) -> None:
    """Produce each event whose id is new; a duplicate is not written again, a conflict is
    refused (409, nothing written); returns once every event is acknowledged by the broker."""
    index = state.event_ids
    fingerprints = [business_fingerprint(e) for e in events]
    conflicts = _conflicts(index, events, fingerprints, array=array)
    if conflicts:
        raise EventIdConflict(
            "an event id was already used with other business content (type, sku, site, qty, "
            "uom, occurred_at, to_site, transfer_id); use a new event id for a new event",
            conflicts,
        )
    # No await from the check above to the claims below: nothing can change in between.
    new: list[InventoryEvent] = []
    pending: list[asyncio.Future[None]] = []
    for event, fingerprint in zip(events, fingerprints, strict=True):
        claim = index.claim(event.event_id, fingerprint)
        if claim.new:
            new.append(event)
        elif claim.pending is not None:
            pending.append(claim.pending)
    topic = state.settings.topic(FEEDS_API)
    outcomes: list[BaseException | None] | None = None
    try:
        results = await asyncio.gather(
            *(_produce(state, topic, event) for event in new), return_exceptions=True
        )
        outcomes = [r if isinstance(r, BaseException) else None for r in results]
    finally:
        if outcomes is None:  # cancelled (the client went away) before every ack came
            outcomes = [_unacknowledged() for _ in new]
        for event, outcome in zip(new, outcomes, strict=True):
            index.settle(event.event_id, outcome)
    state.metrics.ingest_events.inc(sum(outcome is None for outcome in outcomes))
    for outcome in outcomes:
        if outcome is not None:
            raise _may_have_been_written(outcome)
    for future in pending:
        try:
            await asyncio.shield(future)
        except BaseException as exc:
            raise _may_have_been_written(exc) from None


def _conflicts(
    index: EventIdIndex, events: list[InventoryEvent], fingerprints: list[int], *, array: bool
) -> list[FieldProblem]:
    found: list[FieldProblem] = []
    in_request: dict[str, int] = {}
    for i, (event, fingerprint) in enumerate(zip(events, fingerprints, strict=True)):
        earlier = in_request.setdefault(event.event_id, fingerprint)
        if earlier != fingerprint or index.conflicts(event.event_id, fingerprint):
            found.append(
                FieldProblem(
                    field=f"[{i}].event_id" if array else "event_id",
                    code="event_id_conflict",
                    message=f"event id {event.event_id} was already used with other content",
                    value=event.event_id,
                )
            )
    return found


def _unacknowledged() -> BaseException:
    return BrokerUnavailable("the request ended before the broker acknowledged the event")


def _may_have_been_written(exc: BaseException) -> BaseException:
    """A failed produce as a 503 that says what a client must do: the event may have been
    written, so retry with the same event id (or key), never with a new one."""
    if not isinstance(exc, BrokerUnavailable):
        return exc
    return BrokerUnavailable(
        f"{exc.detail}. The event may have been written: retry with the same event_id or "
        "Idempotency-Key (a retry is then recognised, never applied twice), not a new one",
        headers=exc.headers or {"Retry-After": "1"},
    )


async def _produce(state: AppState, topic: str, event: InventoryEvent) -> None:
    await state.producer.send(topic, event.sku.encode(), _encoder.encode(event))
