"""Scenario runs for architects: start, status and report, plots, and a live stream."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket
from fastapi.responses import FileResponse, Response

from api.auth import Role
from api.deps import AppState, Architect, State, get_state
from api.msgspec_response import MsgspecResponse
from api.problems import NotFound, problem_response, problem_responses
from api.scenario_inputs import (
    ScenarioInputError,
    check_compare,
    check_from_live,
    check_mode,
    library_entries,
    library_names,
    scenario_from_request,
)
from api.scenarios import ScenarioRun
from api.schemas import ScenarioRequest, ScenarioRunModel
from api.ws_auth import (
    Disconnected,
    Refused,
    admit_websocket,
    receive_within,
    refuse,
    release_websocket,
)
from api.ws_limits import Refusal

router = APIRouter(prefix="/v1/scenarios", tags=["scenarios"])
WS_UNKNOWN_RUN = 4404  # internal-contracts: close 4404 = unknown scenario run
_COMMON = problem_responses(401, 403, 422)


@router.get("", summary="Scenario library and runs", responses=_COMMON)
def list_scenarios(_: Architect, state: State) -> dict[str, Any]:
    """The library (names, and each one's description and modes) and every stored run,
    newest first, whichever API process started it."""
    return {
        "scenarios": library_names(),
        "library": library_entries(),
        "runs": state.scenarios.list_runs(),
    }


@router.post(
    "",
    status_code=202,
    response_model=ScenarioRunModel,
    summary="Start a scenario run (offline or live) in a worker process",
    responses=problem_responses(401, 403, 422, 503),
)
async def start_scenario(request: ScenarioRequest, _: Architect, state: State) -> Response:
    """A library name or an inline spec, checked before a run exists (never a file path)."""
    try:
        # Off the event loop: an inline spec is up to 200 kB of YAML.
        scenario = await asyncio.to_thread(scenario_from_request, request.scenario, request.spec)
        check_mode(scenario, request.mode)
        check_compare(request.compare)
        from_live = request.from_ == "live" or scenario.from_ == "live"
        if from_live:
            check_from_live(request.mode, state.scenarios.master_data)
    except ScenarioInputError as exc:
        return problem_response(422, "Invalid scenario", exc.detail, errors=exc.problems)
    run = state.scenarios.start(
        scenario=request.scenario,
        spec=request.spec,
        mode=request.mode,
        seed=request.seed,
        from_live=from_live,
        replications=request.replications,
        compare=request.compare,
        name=scenario.name,
    )
    return MsgspecResponse(run.public(), status_code=202)


@router.get(
    "/{run_id}",
    response_model=ScenarioRunModel,
    summary="A run's status, metric series and report",
    responses=problem_responses(401, 403, 404),
)
def get_scenario(run_id: str, _: Architect, state: State) -> MsgspecResponse:
    run = state.scenarios.get(run_id)
    if run is None:
        raise NotFound(f"no scenario run {run_id!r}")
    return MsgspecResponse(run.public())


@router.delete(
    "/{run_id}",
    response_model=ScenarioRunModel,
    summary="Cancel a running run (from any API process); a finished run is left as it is",
    responses=problem_responses(401, 403, 404),
)
def cancel_scenario(run_id: str, _: Architect, state: State) -> MsgspecResponse:
    run = state.scenarios.cancel(run_id)
    if run is None:
        raise NotFound(f"no scenario run {run_id!r}")
    return MsgspecResponse(run.public())


@router.get(
    "/{run_id}/plots/{name}",
    summary="One PNG plot of a finished run's report",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}}, **problem_responses(401, 403, 404)},
)
def get_plot(run_id: str, name: str, _: Architect, state: State) -> FileResponse:
    run = state.scenarios.get(run_id)
    path = state.scenarios.plot_path(run, name) if run is not None else None
    if path is None:
        raise NotFound(f"no plot {name!r} for run {run_id!r}")
    return FileResponse(path, media_type="image/png")


@router.websocket("/{run_id}/stream")
async def stream_scenario(websocket: WebSocket, run_id: str) -> None:
    """Progress, metric series and the final report of a run (architect role)."""
    state = get_state(websocket)
    principal = await admit_websocket(websocket, state, Role.ARCHITECT, "scenario")
    if principal is None:
        return
    try:
        await _follow(websocket, state, run_id)
    finally:
        release_websocket(state, principal, "scenario")


async def _follow(websocket: WebSocket, state: AppState, run_id: str) -> None:
    """Send the run's messages while watching the client: gone, or a message too big."""
    run = state.scenarios.get(run_id)
    if run is None:
        await refuse(
            websocket, state, Refusal(WS_UNKNOWN_RUN, "no such scenario run", "unknown_run")
        )
        return
    sender = asyncio.create_task(_send_run(websocket, run))
    watcher = asyncio.create_task(_watch(websocket, state.settings.ws_max_message_bytes))
    try:
        await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, watcher):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    if watcher.done() and not watcher.cancelled() and watcher.exception() is None:
        refusal = watcher.result()
        if refusal is not None:
            await refuse(websocket, state, refusal)


async def _send_run(websocket: WebSocket, run: ScenarioRun) -> None:
    follower: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    for past in run.history():
        await websocket.send_text(_encode(past))
    if run.status != "running":
        await websocket.close(code=1000, reason=run.status)
        return
    run.followers.add(follower)
    try:
        while (message := await follower.get()) is not None:
            await websocket.send_text(_encode(message))
        await websocket.close(code=1000, reason=run.status)
    finally:
        run.followers.discard(follower)


async def _watch(websocket: WebSocket, max_bytes: int) -> Refusal | None:
    """Read (and ignore) what the client sends: None once it is gone, or why to close it."""
    while True:
        try:
            await receive_within(websocket, max_bytes)
        except Disconnected:
            return None
        except Refused as refused:
            return refused.refusal


def _encode(message: dict[str, Any]) -> str:
    return MsgspecResponse._encoder.encode(message).decode()
