"""Who the caller is, as far as the page needs to know: its role and what that role includes.

The dashboard asks this once after sign-in and shows only what the role may use (no
scenario panel for a viewer, no case actions without the operator role), so it never
sends a request it knows will be refused. The token itself is never echoed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import Role
from api.deps import Viewer
from api.problems import problem_responses

router = APIRouter(prefix="/v1", tags=["view"])


@router.get(
    "/me",
    summary="The caller's role and the roles it includes",
    responses=problem_responses(401, 403),
)
def me(principal: Viewer) -> dict[str, Any]:
    return {"role": principal.role.value, "may": [r.value for r in Role if principal.may(r)]}
