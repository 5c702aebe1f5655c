"""Request dependencies: the app's state and authentication, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from api.auth import Principal, Role, TokenBook
from api.problems import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from api.broadcaster import Broadcaster
    from api.event_index import EventIdIndex
    from api.feed import Feed
    from api.idempotency_log import IdempotencyLog
    from api.ingest import RateLimiter
    from api.ingest_validation import IngestChecker
    from api.master_data import LiveMasterData
    from api.producer import EventProducer
    from api.scenarios import ScenarioManager
    from api.settings import ApiSettings
    from api.telemetry import ApiMetrics
    from api.view import TwinView
    from api.ws_limits import ConnectionSlots
    from infra.clock import DomainClock


@dataclass
class AppState:
    """Everything one app instance owns, made in its lifespan (no module globals)."""

    settings: ApiSettings
    tokens: TokenBook
    metrics: ApiMetrics
    view: TwinView
    feed: Feed
    producer: EventProducer
    broadcaster: Broadcaster
    event_ids: EventIdIndex  # ids written to the ingest topic (api.event_index)
    idempotency_log: IdempotencyLog  # fills event_ids from Kafka
    ingest_checker: IngestChecker  # master-data and horizon checks of ingest
    master_data: LiveMasterData  # the checker's index and the view's catalog, from masterdata.v1
    rate_limiter: RateLimiter
    event_rate_limiter: RateLimiter  # ingest's events per token, besides its requests
    scenarios: ScenarioManager
    clock: DomainClock  # the stack's domain clock (ApiSettings.domain_clock)
    ws_slots: ConnectionSlots  # WebSocket connections held, in all and per token


def get_state(connection: HTTPConnection) -> AppState:
    """The app's state, from a request or a WebSocket."""
    return connection.app.state.twin  # type: ignore[no-any-return]


State = Annotated[AppState, Depends(get_state)]

_bearer = HTTPBearer(auto_error=False, description="A token from TWIN_API_TOKENS.")


def require(role: Role) -> Callable[..., Principal]:
    """A dependency that authenticates the bearer token and checks it grants `role`."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise Unauthenticated("an `Authorization: Bearer <token>` header is required")
        principal = get_state(request).tokens.principal(credentials.credentials)
        if principal is None:
            raise Unauthenticated("the bearer token is not known")
        if not principal.may(role):
            raise Forbidden(
                f"the {principal.role.value} role may not do this ({role.value} needed)"
            )
        return principal

    return dependency


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Architect = Annotated[Principal, Depends(require(Role.ARCHITECT))]
Ingester = Annotated[Principal, Depends(require(Role.INGEST))]
