"""Benchmark: master data at catalogue size, generated, written and loaded per process.

Scenario: the generated network of `invtwin sim network` (half the sites on the API, batch
middleware, one 3PL; each, case and pallet per SKU; a reorder point and a target per
SKU-site; legacy local codes at the batch sites, the 3PL's item number for every SKU; a lane
between every pair of sites) at 100,000 SKUs x 20 sites (2 million SKU-sites), and at
5,000 SKUs x 6 sites beside it.

Measured in one run, each step in a fresh child process (as each deployable loads it):
- `network_generate_s`: `invtwin sim network --out DIR` (generate into columns, write the
  CSV bundle), wall seconds; `network_generate_peak_mb` its peak RSS;
- `masterdata_load_s`: `twin.masterdata.load_master_index(bundle)` (read, check, index),
  wall seconds, median of `--repeat` children; `masterdata_rss_mb`: the child's resident
  memory after the load minus before it (the modules already imported), median too;
  `masterdata_load_cpu_s` the CPU seconds of the same loads, and `reference_loop_s` a fixed
  pure-Python loop timed in the same children just before (the machine is shared: it says
  how slow the machine was while the loads ran);
- `flow_start_s` / `flow_rss_mb`, per flow (`normalize`, `twin`): a fresh process that
  imports the flow, loads the bundle and builds the dataflow as `invtwin flow` does
  (`dataflows.production.build_flow`, with the twin's shard state built once), up to the
  point Bytewax would run it: the process's wall seconds from its start, its CPU seconds
  (`flow_start_cpu_s`, what a busy machine does not inflate) and its resident memory then
  (the whole process: interpreter, Bytewax, Kafka client, master data), medians;
- `small_*`: the same at 5,000 x 6, and `small_yaml_*` the YAML file of that network
  loaded the same way (`load_master_index(network.yaml)`): the baseline YAML path.
Targets: load <= 5 s and <= 500 MB per process, generation <= 30 s.

The last line of stdout is the JSON result, also written to bench/results/catalogue.json.
    TWIN_PURE=1 .venv/bin/python -m bench.catalogue [--skus 100000 --sites 20 --repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.publish import publish

TARGET_LOAD_S = 5.0
TARGET_RSS_MB = 500.0
TARGET_GENERATE_S = 30.0


def _rss_mb() -> float:
    """This process's resident memory now (not its peak)."""
    with Path("/proc/self/statm").open() as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def reference_loop_s() -> float:
    """Seconds for 5 million additions in a Python loop: how fast this machine is right now.

    About 0.25 s on a quiet core here; on a machine shared with other work it grows, and
    the load time beside it can be read in proportion.
    """
    started = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i
    return round(time.perf_counter() - started, 3)


def child_load(path: str) -> dict[str, Any]:
    """Load master data in this (fresh) process: time, CPU and memory the load adds."""
    from twin.masterdata import load_master_index

    reference = reference_loop_s()
    before = _rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    index = load_master_index(path)
    took, cpu_took = time.perf_counter() - started, time.process_time() - cpu
    after = _rss_mb()
    first = index.sku_ids[0]
    assert index.get_sku(first) is not None and index.reorder_point(first, index.site_ids[0]) >= 0
    return {
        "load_s": round(took, 3),
        "load_cpu_s": round(cpu_took, 3),
        "rss_mb": round(after - before, 1),
        "reference_loop_s": reference,
        "skus": len(index.sku_ids),
        "sites": len(index.site_ids),
    }


def child_flow(name: str, path: str) -> dict[str, Any]:
    """Build flow `name` over the bundle at `path` in this (fresh) process, as `invtwin flow`
    does before Bytewax runs it: seconds since the process started, and its memory."""
    from dataflows.production import normalize_flow, shard_factory, twin_flow
    from dataflows.settings import FlowSettings
    from twin.masterdata import load_master_index

    # what `build_flow` does, keeping the index to build the first shard's state from it
    settings = FlowSettings(master_data=Path(path))
    master = load_master_index(settings.master_data)
    if name == "twin":
        twin_flow(settings, master)
        shard_factory(settings, master).new()  # the rule book every shard of a process shares
    else:
        normalize_flow(settings, master)
    took = time.time() - _process_started()
    cpu = os.times()
    return {
        "start_s": round(took, 3),
        "cpu_s": round(cpu.user + cpu.system, 3),
        "rss_mb": round(_rss_mb(), 1),
    }


def _process_started() -> float:
    """This process's start time (epoch seconds), from /proc."""
    with Path("/proc/self/stat").open() as stat:
        started_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
    with Path("/proc/stat").open() as proc_stat:
        boot = next(int(line.split()[1]) for line in proc_stat if line.startswith("btime"))
    return boot + started_ticks / os.sysconf("SC_CLK_TCK")


def child_generate(sites: int, skus: int, out: str) -> dict[str, Any]:
    """`invtwin sim network` in this (fresh) process: wall time and peak memory."""
    from cli.masterdata import write_master
    from twin.masterdata_gen import generate_columns

    started = time.perf_counter()
    write_master(generate_columns(sites=sites, skus=skus, seed=0), Path(out))
    took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"generate_s": round(took, 2), "peak_mb": round(peak, 1)}


def _in_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.catalogue", "--child", *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _loads(path: Path, repeat: int) -> dict[str, Any]:
    runs = [_in_child("load", str(path)) for _ in range(repeat)]
    return {
        "load_s": statistics.median(r["load_s"] for r in runs),
        "load_cpu_s": statistics.median(r["load_cpu_s"] for r in runs),
        "rss_mb": statistics.median(r["rss_mb"] for r in runs),
        "load_runs_s": [r["load_s"] for r in runs],
        "reference_loop_s": statistics.median(r["reference_loop_s"] for r in runs),
    }


def _flow_starts(name: str, path: Path, repeat: int) -> dict[str, Any]:
    runs = [_in_child("flow", name, str(path)) for _ in range(repeat)]
    return {
        "start_s": statistics.median(r["start_s"] for r in runs),
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "rss_mb": statistics.median(r["rss_mb"] for r in runs),
        "start_runs_s": [r["start_s"] for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="children per load figure")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "load":
            print(json.dumps(child_load(rest[0])))
        elif kind == "flow":
            print(json.dumps(child_flow(rest[0], rest[1])))
        else:
            print(json.dumps(child_generate(int(rest[0]), int(rest[1]), rest[2])))
        return
    with tempfile.TemporaryDirectory(prefix="catalogue-") as tmp:
        big, small = Path(tmp) / "big", Path(tmp) / "small"
        small_yaml = Path(tmp) / "small.yaml"
        generated = _in_child("generate", str(args.sites), str(args.skus), str(big))
        small_generated = _in_child("generate", "6", "5000", str(small))
        _in_child("generate", "6", "5000", str(small_yaml))
        big_load = _loads(big, args.repeat)
        flows = {name: _flow_starts(name, big, args.repeat) for name in ("normalize", "twin")}
        small_load = _loads(small, args.repeat)
        yaml_load = _loads(small_yaml, args.repeat)
        bundle_mb = sum(p.stat().st_size for p in big.iterdir()) / 2**20
    figures: dict[str, Any] = {
        "skus": args.skus,
        "sites": args.sites,
        "sku_sites": args.skus * args.sites,
        "network_generate_s": generated["generate_s"],
        "network_generate_peak_mb": generated["peak_mb"],
        "bundle_mb": round(bundle_mb, 1),
        "masterdata_load_s": big_load["load_s"],
        "masterdata_load_cpu_s": big_load["load_cpu_s"],
        "masterdata_rss_mb": big_load["rss_mb"],
        "masterdata_load_runs_s": big_load["load_runs_s"],
        "reference_loop_s": big_load["reference_loop_s"],
        "flow_start_s": {name: f["start_s"] for name, f in flows.items()},
        "flow_start_cpu_s": {name: f["cpu_s"] for name, f in flows.items()},
        "flow_rss_mb": {name: f["rss_mb"] for name, f in flows.items()},
        "flow_start_runs_s": {name: f["start_runs_s"] for name, f in flows.items()},
        "small_network_generate_s": small_generated["generate_s"],
        "small_masterdata_load_s": small_load["load_s"],
        "small_masterdata_rss_mb": small_load["rss_mb"],
        "small_yaml_load_s": yaml_load["load_s"],
        "small_yaml_rss_mb": yaml_load["rss_mb"],
        "small_size": "5000 SKUs x 6 sites",
        "repeat": args.repeat,
        "targets": {
            "masterdata_load_s": TARGET_LOAD_S,
            "masterdata_rss_mb": TARGET_RSS_MB,
            "network_generate_s": TARGET_GENERATE_S,
        },
    }
    figures["meets_targets"] = (
        figures["masterdata_load_s"] <= TARGET_LOAD_S
        and figures["masterdata_rss_mb"] <= TARGET_RSS_MB
        and figures["network_generate_s"] <= TARGET_GENERATE_S
    )
    publish("catalogue", figures)


if __name__ == "__main__":
    main()
