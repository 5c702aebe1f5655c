"""Benchmark: `masterdata.v1` at catalogue size, in process (no broker).

Scenario: a generated network of `--skus` x `--sites` (default 100,000 x 20: 2 million
SKU-sites) in columns. Measured, medians over `--repeat` runs:
- `rows_s`: the catalogue as records (`index_rows`), what `invtwin masterdata publish` builds;
  `first_diff_s` / `same_diff_s`: its diff against an empty topic (every row) and against a
  topic holding the same rows (nothing), `records`: how many records the catalogue is;
- `replay_s` (wall) and `replay_cpu_s`: decoding and applying every record onto an index
  already holding the catalogue, what each flow process and API replica does at start when
  the topic holds the whole catalogue (`replay_us_per_record`);
- `baseline_generate_s`: building the same columns from scratch in the same run, the
  reference the ratios (`replay_vs_generate`) are taken against.

The last line of stdout is the JSON result; it is also written to
`bench/results/masterdata_live.json`.
    TWIN_PURE=1 .venv/bin/python -m bench.masterdata_live [--skus 100000 --sites 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from twin.masterdata import MasterIndex
from twin.masterdata_changes import apply_record, diff_rows, encode_change, index_rows
from twin.masterdata_gen import generate_columns

T = TypeVar("T")
RESULTS = Path(__file__).parent / "results" / "masterdata_live.json"


def _timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """`fn()`, its wall seconds and this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def run_once(skus: int, sites: int) -> dict[str, float]:
    columns, generate_s, _ = _timed(lambda: generate_columns(sites=sites, skus=skus))
    index = MasterIndex(columns)
    rows, rows_s, _ = _timed(lambda: index_rows(index))
    changes, first_diff_s, _ = _timed(lambda: diff_rows({}, rows))
    _, same_diff_s, _ = _timed(lambda: diff_rows(rows, rows))
    records = [encode_change(c) for c in changes]

    def replay() -> None:
        for key, value in records:
            apply_record(index, key, value)

    _, replay_s, replay_cpu_s = _timed(replay)
    return {
        "records": len(records),
        "baseline_generate_s": generate_s,
        "rows_s": rows_s,
        "first_diff_s": first_diff_s,
        "same_diff_s": same_diff_s,
        "replay_s": replay_s,
        "replay_cpu_s": replay_cpu_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [run_once(args.skus, args.sites) for _ in range(args.repeat)]
    medians = {field: statistics.median(r[field] for r in runs) for field in runs[0]}
    result: dict[str, object] = {
        "name": "masterdata_live",
        "skus": args.skus,
        "sites": args.sites,
        "sku_sites": args.skus * args.sites,
        "repeat": args.repeat,
        **{field: round(value, 3) for field, value in medians.items()},
        "replay_us_per_record": round(medians["replay_cpu_s"] / medians["records"] * 1e6, 2),
        "replay_vs_generate": round(medians["replay_s"] / medians["baseline_generate_s"], 2),
        "replay_runs_s": [round(r["replay_s"], 2) for r in runs],
    }
    result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["cpus"] = os.cpu_count()
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
