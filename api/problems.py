"""The API's error responses: one Problem model (RFC 9457 style) and the one place where
domain and API errors are translated to HTTP status codes and WebSocket close codes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from twin.errors import TwinError, ValidationFailed

PROBLEM_MEDIA_TYPE = "application/problem+json"

# WebSocket close codes of the contract page.
WS_UNAUTHENTICATED = 4401
WS_FORBIDDEN = 4403
WS_SLOW_CONSUMER = 4408
WS_TRY_AGAIN_LATER = 1013


class FieldProblem(BaseModel):
    """One problem with one field of one record."""

    field: str = Field(description="Path of the field, e.g. `[3].qty` or `sku`.")
    code: str = Field(description="Machine-readable reason, e.g. `missing`, `out_of_range`.")
    message: str = Field(description="What is wrong, worded so a person can fix it.")
    value: Any = Field(default=None, description="The offending value (cut short), if any.")


class Problem(BaseModel):
    """Every error response: `type`/`title`/`status`/`detail`, plus `errors` for 422."""

    type: str = Field(default="about:blank", description="URI naming the problem type.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(default="", description="What happened in this occurrence.")
    errors: list[FieldProblem] = Field(
        default_factory=list, description="Every field error (validation problems only)."
    )


class ApiError(Exception):
    """An error the API answers with a Problem; subclasses fix status and title."""

    status = 500
    title = "Internal error"
    headers: dict[str, str] | None = None

    def __init__(self, detail: str = "", *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if headers is not None:
            self.headers = headers


class Unauthenticated(ApiError):
    status, title = 401, "Unauthenticated"
    headers = {"WWW-Authenticate": 'Bearer realm="invtwin"'}


class Forbidden(ApiError):
    status, title = 403, "Forbidden"


class NotFound(ApiError):
    status, title = 404, "Not found"


class PayloadTooLarge(ApiError):
    status, title = 413, "Payload too large"


class EventIdConflict(ApiError):
    """An event id already written (or being written) with other business content."""

    status, title = 409, "Event id already used with other content"

    def __init__(self, detail: str, errors: list[FieldProblem]) -> None:
        super().__init__(detail)
        self.errors = errors


class TooManyRequests(ApiError):
    status, title = 429, "Too many requests"


class BrokerUnavailable(ApiError):
    status, title = 503, "Broker unavailable"


class ServiceBusy(ApiError):
    status, title = 503, "Service busy"


def problem_response(
    status: int,
    title: str,
    detail: str = "",
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail, errors=errors or [])
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def validation_problem(exc: ValidationFailed) -> JSONResponse:
    errors = [
        FieldProblem(field=e.field, code=e.code, message=e.message, value=_jsonable(e.value))
        for e in exc.errors
    ]
    return problem_response(
        422, "Invalid event", f"{len(errors)} validation error(s)", errors=errors
    )


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)[:80]


def install_error_handlers(app: FastAPI) -> None:
    """Register the translation of every error type to a Problem response."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        errors = exc.errors if isinstance(exc, EventIdConflict) else None
        return problem_response(
            exc.status, exc.title, exc.detail, errors=errors, headers=exc.headers
        )

    @app.exception_handler(ValidationFailed)
    async def _validation_failed(_: Request, exc: ValidationFailed) -> JSONResponse:
        return validation_problem(exc)

    @app.exception_handler(TwinError)
    async def _twin_error(_: Request, exc: TwinError) -> JSONResponse:
        return problem_response(422, "Domain rule violated", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldProblem(
                field=".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body",
                code=str(err.get("type", "invalid")),
                message=str(err.get("msg", "invalid")),
            )
            for err in exc.errors()
        ]
        return problem_response(422, "Invalid request", "the request is invalid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code,
            str(exc.detail) if exc.detail else "Error",
            headers=getattr(exc, "headers", None),
        )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the Problem body for these statuses."""
    descriptions = {
        401: "No bearer token, or an unknown one (see `WWW-Authenticate`).",
        403: "The token's role may not use this endpoint.",
        404: "No such resource.",
        409: "An event id (`errors[].value`) was already written with other business content.",
        413: "The request body is larger than the configured limit.",
        422: "The request is invalid; `errors` lists every problem.",
        429: "Rate limit or concurrency limit hit; retry after `Retry-After` seconds.",
        503: (
            "A dependency (the Kafka broker) is unavailable; retry after `Retry-After`. On "
            "ingest the events may have been written: retry with the same `event_id` or "
            "`Idempotency-Key`."
        ),
    }
    return {
        s: {
            "model": Problem,
            "description": descriptions.get(s, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }
