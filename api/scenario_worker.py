"""What runs inside a scenario worker process (spawned, so no loop or threads are inherited).

`run_in_worker` resolves the runner ("module:function"), runs it and forwards every
`on_event` message, then the final report or the failure, through a multiprocessing queue.
`run_simulator` is the real runner: the simulator's `run_scenario` (internal-contracts.md).
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal


def run_simulator(
    *,
    scenario: str | None,
    spec: str | None,
    mode: Literal["offline", "live"],
    seed: int,
    out_dir: Path,
    on_event: Callable[[dict[str, Any]], None],
    bootstrap: str | None,
    topics: dict[str, str] | None,
    from_live: bool = False,
    replications: int | None = None,
    master_data: Path | None = None,
    compare: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`master_data` is the API's own (TWIN_MASTER_DATA), never one named by a request."""
    from api.scenario_inputs import scenario_from_request
    from simulator.runner import run_scenario  # imported in the worker only

    # Checked again here: whatever reaches a worker, it runs a library name or an inline
    # spec and reads no file named by the request.
    loaded = scenario_from_request(scenario, spec)
    if from_live:
        loaded = loaded.model_copy(update={"from_": "live"})
    if compare is not None:
        from simulator.spec import VariantSpec

        variants = [VariantSpec.model_validate(v) for v in compare]
        loaded = loaded.model_copy(update={"compare": variants})
    return run_scenario(
        loaded,
        mode=mode,
        seed=seed,
        out_dir=out_dir,
        on_event=on_event,
        bootstrap=bootstrap,
        topics=topics,
        replications=replications,
        master_data=master_data,
    )


def resolve(path: str) -> Callable[..., dict[str, Any]]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def run_in_worker(runner: str, kwargs: dict[str, Any], queue: Any) -> None:
    """The worker process's target: every message goes to `queue`, ending with a final one."""
    saw_report = False

    def on_event(message: dict[str, Any]) -> None:
        nonlocal saw_report
        saw_report = saw_report or message.get("type") == "report"
        queue.put(message)

    try:
        report = resolve(runner)(on_event=on_event, **kwargs)
        if not saw_report:
            queue.put({"type": "report", "report": report, "plots": {}})
        queue.put({"type": "done"})
    except BaseException as exc:  # the parent must hear about every failure
        queue.put(
            {
                "type": "failed",
                "error": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc(limit=8),
            }
        )
