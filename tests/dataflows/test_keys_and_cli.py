"""Shard keys are stable across processes; the CLI passes -p children the right arguments."""

from __future__ import annotations

import subprocess
import sys

from cli.flow import _drop_option_values
from dataflows.keys import all_shard_keys, shard_key, shard_of


def test_a_sku_maps_to_the_same_shard_in_every_process():
    # CRC-32, not the salted hash(): a fresh interpreter must agree with this one
    code = "from dataflows.keys import shard_of; print(shard_of('SKU-00042', 64))"
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert int(other.stdout) == shard_of("SKU-00042", 64)


def test_shards_spread_skus_over_every_key():
    shards = {shard_key(shard_of(f"SKU-{n:05d}", 64)) for n in range(5000)}
    assert shards == set(all_shard_keys(64))


def test_local_cluster_children_get_every_option_but_the_process_count():
    argv = ["flow", "twin", "-p", "2", "--shards", "8", "--processes=3", "-p2", "--stop-at-end"]
    assert _drop_option_values(argv, ("-p", "--processes")) == [
        "flow",
        "twin",
        "--shards",
        "8",
        "--stop-at-end",
    ]


def test_each_flow_has_its_own_snapshot_interval_unless_one_is_given() -> None:
    from datetime import timedelta

    from dataflows.settings import FlowSettings

    default = FlowSettings()
    assert default.snapshot_interval("normalize") == timedelta(seconds=5)
    assert default.snapshot_interval("twin") == timedelta(seconds=30)
    given = FlowSettings(flow_snapshot_interval_s=12)
    assert given.snapshot_interval("normalize") == given.snapshot_interval("twin")
    assert given.snapshot_interval("twin") == timedelta(seconds=12)
