"""One error hierarchy for the domain, and the structured field error every rejection carries.

Translation to HTTP status codes or WebSocket close codes happens in one place in `api/`.
"""

from __future__ import annotations

from typing import Any

import msgspec


class FieldError(msgspec.Struct, frozen=True, kw_only=True):
    """One problem with one field of one record, worded so a person can fix it."""

    field: str
    value: Any = None
    code: str
    message: str


class TwinError(Exception):
    """Base class of every domain error."""


class ValidationFailed(TwinError):
    """A record broke the contract; `errors` lists every problem, not only the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        super().__init__(f"{len(errors)} validation error(s): {summary}")


class MasterDataError(TwinError):
    """The master-data file is missing, unreadable or inconsistent."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("invalid master data:\n  " + "\n  ".join(errors))
