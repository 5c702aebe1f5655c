"""Offline runs split by SKU over several processes, merged into one report.

Every physical process of the model is per SKU (demand, waves, replenishment, transfers of a
SKU between sites, counts), so a network can be simulated as independent SKU shards, each
with its own twin shard — the way the twin itself scales (DESIGN: partitions keyed by SKU).
Shard `i` of `n` takes every `n`-th SKU, draws from its own seeded streams and tags its event
ids, so a sharded run is as reproducible as a single one (for the same `n`).
"""

from __future__ import annotations

import hashlib
import multiprocessing
from typing import Any

from simulator.engine import OnEvent
from simulator.report import RunData, merge_run_data
from simulator.spec import Scenario
from twin.masterdata import MasterData


def sku_shard(md: MasterData, shard: int, shards: int) -> MasterData:
    """Master data with every `shards`-th SKU from `shard` on (sites, lanes, partners kept)."""
    skus = md.skus[shard::shards]
    keep = {s.id for s in skus}
    return MasterData(
        sites=md.sites,
        skus=skus,
        aliases=[a for a in md.aliases if a.sku in keep],
        partners=md.partners,
        lanes=md.lanes,
    )


def _shard_job(args: tuple[str, int, int, int]) -> tuple[Any, dict[str, Any]]:
    from simulator.runner import offline_shard  # the runner imports this module

    scenario_json, seed, shard, shards = args
    return offline_shard(Scenario.model_validate_json(scenario_json), seed, shard, shards)


def sharded_data(
    scenario: Scenario, seed: int, shards: int, *, on_event: OnEvent | None = None
) -> tuple[RunData, dict[str, Any]]:
    """Run `shards` SKU shards in parallel processes; one run's data and report header."""
    jobs = [(scenario.model_dump_json(), seed, i, shards) for i in range(shards)]
    methods = multiprocessing.get_all_start_methods()
    # fork: no re-import per worker (the offline path starts no threads before this point)
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ctx.Pool(processes=shards) as pool:
        results = []
        for done, result in enumerate(pool.imap(_shard_job, jobs), start=1):
            results.append(result)
            if on_event is not None:
                on_event(
                    {"type": "progress", "sim_time_s": scenario.duration_hours * 3600.0,
                     "pct": round(100.0 * done / shards, 2), "events": 0}
                )  # fmt: skip
    data = merge_run_data([r[0] for r in results])
    headers = [r[1] for r in results]
    header = dict(headers[0])
    header["network"] = {**header["network"], "skus": sum(h["network"]["skus"] for h in headers)}
    header["network"]["sku_sites"] = header["network"]["skus"] * len(header["network"]["sites"])
    header["quiescent_at_hours"] = max(h["quiescent_at_hours"] for h in headers)
    header["events"] = {key: sum(h["events"][key] for h in headers) for key in header["events"]}
    header["twin"] = {key: sum(h["twin"][key] for h in headers) for key in header["twin"]}
    digest = hashlib.sha256("".join(h["stream_sha256"] for h in headers).encode())
    header["stream_sha256"] = digest.hexdigest()
    header["workers"] = shards
    return data, header
