"""`invtwin masterdata publish` on the real broker: the whole catalogue once, then only a diff."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from cli.topic_scan import scan
from infra.topics import MASTERDATA, TOPIC_SPECS
from twin.masterdata import MasterData, MasterIndex, load_master_index
from twin.masterdata_changes import apply_record, index_rows

BUNDLE = Path(__file__).parents[2] / "examples" / "network-bundle"
runner = CliRunner()


def _publish(bootstrap: str, topic: str, path: Path) -> str:
    result = runner.invoke(
        app, ["masterdata", "publish", str(path), "--bootstrap", bootstrap, "--topic", topic]
    )
    assert result.exit_code == 0, result.output
    return result.output


def _topic_catalogue(bootstrap: str, topic: str) -> MasterIndex:
    index = MasterIndex(MasterData(sites=[], skus=[]))
    for msg in scan(bootstrap, topic):
        apply_record(index, msg.key(), msg.value())
    return index


def test_publish_writes_the_catalogue_then_only_what_changed(
    kafka_bootstrap: str, new_topic, tmp_path: Path
) -> None:
    spec = next(s for s in TOPIC_SPECS if s.name == MASTERDATA)
    topic = new_topic("masterdata", partitions=spec.partitions, config=spec.config)
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle)

    first = _publish(kafka_bootstrap, topic, bundle)
    assert "published 3420 change(s)" in first and "items set 300" in first
    assert "published 0 change(s)" in _publish(kafka_bootstrap, topic, bundle)

    # a new SKU with its policy, a changed reorder point, a dropped alias
    (bundle / "items.csv").write_text(
        (bundle / "items.csv").read_text() + "SKU-NEW,New item,each,3.5\n"
    )
    sites = (bundle / "item_sites.csv").read_text().splitlines()
    assert sites[1] == "SKU-00001,WH-01,18,36"
    sites[1] = "SKU-00001,WH-01,25,36"
    (bundle / "item_sites.csv").write_text("\n".join([*sites, "SKU-NEW,WH-02,4,8"]) + "\n")
    aliases = (bundle / "aliases.csv").read_text().splitlines()
    (bundle / "aliases.csv").write_text("\n".join(aliases[:-1]) + "\n")

    out = _publish(kafka_bootstrap, topic, bundle)
    assert "published 4 change(s)" in out, out
    assert "aliases deleted 1, item_sites set 2, items set 1" in out

    held = _topic_catalogue(kafka_bootstrap, topic)
    assert index_rows(held) == index_rows(load_master_index(bundle))
    assert held.reorder_point("SKU-00001", "WH-01") == 25
    assert held.reorder_point("SKU-NEW", "WH-02") == 4
