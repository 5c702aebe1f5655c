"""`POST /v1/events`: governed ingest of canonical events into `feeds.api.v1`.

Order of checks: auth → rate limit (429) → body size (413) → validation by the twin core
(422, every error) → idempotency (replay / 422 on a reused key) → produce and await the
broker's acknowledgement (202), or 503 with `Retry-After` when it does not come in time.
"""

from __future__ import annotations

import asyncio
import math
from typing import Annotated

import msgspec
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from api.deps import AppState, Ingester, State
from api.ingest import StoredResponse, event_id_for_key
from api.problems import ApiError, PayloadTooLarge, TooManyRequests, problem_responses
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
        "Validated by the twin core; 422 lists every error of every record. "
        "With `Idempotency-Key` (single event only) the event id becomes the key, a repeat "
        "with the same body gets the first response again and a different body gets 422. "
        "202 is sent only after the broker acknowledged every event."
    ),
    responses=problem_responses(401, 403, 413, 422, 429, 503),
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
        if idempotency_key is None:
            stored = await _accept(state, body, None)
        else:
            stored = await state.idempotency.run_once(
                principal.token,
                idempotency_key,
                body,
                lambda: _accept(state, body, idempotency_key),
            )
    except ValidationFailed:
        metrics.ingest_requests.labels("invalid").inc()
        raise
    except ApiError as exc:
        metrics.ingest_requests.labels(f"http_{exc.status}").inc()
        metrics.ingest_errors.labels(type(exc).__name__).inc()
        raise
    metrics.ingest_requests.labels("accepted").inc()
    return Response(stored.body, status_code=stored.status, media_type="application/json")


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


async def _accept(state: AppState, body: bytes, idempotency_key: str | None) -> StoredResponse:
    events = decode_events(body)
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
        events = [msgspec.structs.replace(events[0], event_id=event_id_for_key(idempotency_key))]
    topic = state.settings.topic(FEEDS_API)
    await asyncio.gather(*(_produce(state, topic, event) for event in events))
    state.metrics.ingest_events.inc(len(events))
    body_out = _encoder.encode({"accepted": len(events), "event_ids": [e.event_id for e in events]})
    return StoredResponse(202, body_out)


async def _produce(state: AppState, topic: str, event: InventoryEvent) -> None:
    await state.producer.send(topic, event.sku.encode(), _encoder.encode(event))
