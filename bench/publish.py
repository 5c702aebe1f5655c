"""Where every benchmark's result goes: `bench/results/<name>.json` and the last stdout line.

One writer, so every result file carries the same context (when, on how many CPUs, at what
load, which Python) beside the figures, and a reader can judge how quiet the machine was.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def result_path(name: str) -> Path:
    return RESULTS_DIR / f"{name}.json"


def publish(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Add the run's context to `figures`, write them, print them as one JSON line."""
    result = {
        "name": name,
        **figures,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }
    path = result_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return result
