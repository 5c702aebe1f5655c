"""Benchmark: the chaos soak for ten minutes on a three-node cluster.

A simulated day of the `baseline` live scenario runs against the whole stack (three Kafka
nodes, both flows, the API) while, every 30 s, a random broker, flow or API process is
SIGKILLed and started again or SIGSTOPped for 3-12 s (see `cli.chaos_soak`). At the end
the twin's buckets are compared with the simulator's ground truth, SKU-site by SKU-site.

Fields: `faults_injected`; `records_acknowledged` (raw feed records the cluster confirmed
with acks=all); `sku_sites_differing`, `units_over` (what the twin holds beyond the truth,
summed over all buckets: where an event applied twice would show) and `units_under` (short
of it: where a lost event would show); `final_accuracy` (share of SKU-sites whose every
bucket equals the truth); `max_recovery_s` per component kind (from the fault until the
target served again: a broker's port, a flow's /healthz, the API's /readyz); `exact`.

Writes bench/results/chaos.json and prints it as the last line.
Run: `.venv/bin/python -m bench.chaos [--minutes 10] [--seed 7]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from cli.chaos_soak import SoakOptions, run_soak
from cli.stack import StackSettings

RESULTS = Path(__file__).resolve().parent / "results" / "chaos.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    home = StackSettings().state_dir / "bench-chaos"
    shutil.rmtree(home, ignore_errors=True)
    options = SoakOptions(minutes=args.minutes, home=home, interval_s=args.interval, seed=args.seed)
    result = run_soak(options, say=print)
    result = {"minutes": args.minutes, "nodes": options.nodes, "seed": args.seed, **result}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if result["exact"]:
        shutil.rmtree(home, ignore_errors=True)
    summary = {k: v for k, v in result.items() if k not in ("faults", "differences")}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
