"""`invtwin masterdata validate | convert | publish`: check master data, move it between its
forms, and publish it to the live topic `masterdata.v1`.

invtwin masterdata validate examples/network-bundle
invtwin masterdata convert examples/network.yaml network-bundle/     (YAML -> CSV bundle)
invtwin masterdata convert network-bundle/ network.yaml              (CSV bundle -> YAML)
invtwin masterdata publish network-bundle/                           (the diff to the topic)

A path that is a directory (or, for an output, has no .yaml/.yml suffix) is a CSV bundle.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from twin.catalog_columns import NO_POLICY, CatalogColumns

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dataflows.settings import FlowSettings
    from twin.masterdata_changes import Change, Row

app = typer.Typer(no_args_is_help=True)

YAML_SUFFIXES = (".yaml", ".yml")


def is_yaml_path(path: Path) -> bool:
    return path.suffix.lower() in YAML_SUFFIXES and not path.is_dir()


def write_master(columns: CatalogColumns, out: Path) -> str:
    """Write master data as YAML (a .yaml/.yml path) or as a CSV bundle (a directory)."""
    if is_yaml_path(out):
        from twin.masterdata import dump_master_data

        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(dump_master_data(columns.to_master_data()), encoding="utf-8")
        return "YAML"
    from twin.masterdata_csv_write import write_bundle

    write_bundle(columns, out)
    return "CSV bundle"


def describe(columns: CatalogColumns) -> str:
    with_policy = len(columns.reorder_point) - columns.reorder_point.count(NO_POLICY)
    return (
        f"{columns.n_sites} sites, {columns.n_skus} SKUs, {with_policy} SKU-sites with a"
        f" reorder point, {columns.n_aliases} aliases, {len(columns.partners)} partners,"
        f" {len(columns.lanes)} lanes"
    )


def _load(path: Path) -> CatalogColumns:
    """The master data at `path`, or every problem on stderr and exit code 1."""
    from twin.errors import MasterDataError
    from twin.masterdata import load_master_index

    try:
        return load_master_index(path).columns
    except MasterDataError as exc:
        for error in exc.errors:
            typer.echo(error, err=True)
        typer.echo(f"INVALID {path}: {len(exc.errors)} problem(s)", err=True)
        raise typer.Exit(code=1) from exc


@app.command("validate")
def validate_cmd(
    path: Annotated[Path, typer.Argument(help="A master-data YAML file or CSV bundle directory.")],
) -> None:
    """Check master data as a whole: OK with its counts, or every problem (exit code 1)."""
    started = time.perf_counter()
    columns = _load(path)
    took = time.perf_counter() - started
    typer.echo(f"OK {path}: {describe(columns)} (loaded in {took:.1f} s)")


@app.command("convert")
def convert_cmd(
    src: Annotated[Path, typer.Argument(help="A YAML file or a CSV bundle directory.")],
    dst: Annotated[Path, typer.Argument(help="Where to write the other form.")],
) -> None:
    """Convert YAML to a CSV bundle or a CSV bundle to YAML (checked on the way)."""
    if is_yaml_path(src) == is_yaml_path(dst):
        form = "YAML files" if is_yaml_path(src) else "CSV bundles"
        typer.echo(f"error: {src} and {dst} are both {form}; convert changes the form", err=True)
        raise typer.Exit(code=2)
    columns = _load(src)
    form = write_master(columns, dst)
    typer.echo(f"wrote {dst} ({form}): {describe(columns)}")


@app.command("publish")
def publish_cmd(
    path: Annotated[Path, typer.Argument(help="A master-data YAML file or CSV bundle directory.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be published; publish nothing.")
    ] = False,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka brokers (default TWIN_KAFKA_BOOTSTRAP).")
    ] = None,
    topic: Annotated[
        str | None,
        typer.Option(help="The topic (default masterdata.v1 + TWIN_FLOW_TOPIC_SUFFIX)."),
    ] = None,
) -> None:
    """Publish master data to `masterdata.v1` as a diff against what the topic holds.

    The topic is read to its end first; only rows that are new or changed are written, and a
    row the topic holds that PATH lacks is deleted (a null record). Publishing the same PATH
    twice publishes nothing the second time. The flows and every API replica apply the
    changes live, in order. Prints the count per entity of what it published.
    """
    from twin.masterdata_changes import encode_change

    settings = _kafka_settings()
    brokers = bootstrap or settings.kafka_bootstrap
    name = topic or settings.topic(_MASTERDATA)
    started = time.perf_counter()
    new_rows = index_rows_of(_load(path))
    held, unreadable = _topic_rows(brokers, name)
    changes = diff_against(held, new_rows)
    if unreadable:
        typer.echo(f"{unreadable} record(s) on {name} are not well-formed; they are replaced")
    if not dry_run and changes:
        produce_records(brokers, ((name, *encode_change(c)) for c in changes))
    verb = "would publish" if dry_run else "published"
    typer.echo(f"{verb} {len(changes)} change(s) to {name}: {summarize(changes)}")
    typer.echo(
        f"the topic held {len(held)} row(s); PATH has {len(new_rows)}"
        f" (in {time.perf_counter() - started:.1f} s)"
    )


_MASTERDATA = "masterdata.v1"


def _kafka_settings() -> FlowSettings:
    """The brokers and topic suffix the flows use (`TWIN_KAFKA_BOOTSTRAP`,
    `TWIN_FLOW_TOPIC_SUFFIX`)."""
    from dataflows.settings import FlowSettings

    return FlowSettings()


def index_rows_of(columns: CatalogColumns) -> dict[str, Row]:
    from twin.masterdata import MasterIndex
    from twin.masterdata_changes import index_rows

    return index_rows(MasterIndex(columns))


def diff_against(held: dict[str, Row | None], new_rows: dict[str, Row]) -> list[Change]:
    """The changes from the topic's rows to `new_rows` (an unreadable row counts as changed)."""
    from twin.masterdata_changes import diff_rows

    return diff_rows(held, new_rows)


def summarize(changes: list[Change]) -> str:
    if not changes:
        return "nothing changed"
    counts = Counter((c.entity, "deleted" if c.row is None else "set") for c in changes)
    return ", ".join(f"{entity} {what} {n}" for (entity, what), n in sorted(counts.items()))


def _topic_rows(bootstrap: str, topic: str) -> tuple[dict[str, Row | None], int]:
    """The rows the compacted topic holds by key (its last record per key, deletes dropped);
    None for a record that does not decode, with how many those are."""
    from cli.topic_scan import ScanError, scan
    from twin.masterdata_changes import ChangeError, decode_change, split_key

    latest: dict[bytes, bytes | None] = {}
    try:
        for msg in scan(bootstrap, topic, timeout_s=600.0):
            if msg.key() is not None:
                latest[msg.key()] = msg.value()
    except (ScanError, TimeoutError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    rows: dict[str, Row | None] = {}
    unreadable = 0
    for key, value in latest.items():
        if value is None:
            continue
        try:
            change = decode_change(key, value)
        except (ChangeError, UnicodeDecodeError):
            unreadable += 1
            try:  # a readable key is set again or deleted; any other is left as it is
                entity, ident = split_key(key)
            except (ChangeError, UnicodeDecodeError):
                continue
            rows[f"{entity}:{ident}"] = None
            continue
        rows[change.key] = change.row
    return rows, unreadable


def produce_records(
    bootstrap: str, records: Iterable[tuple[str, bytes | None, bytes | None]]
) -> None:
    """Write (topic, key, value) records in order with the project's idempotent producer;
    exit code 1 with the reason when any is not delivered."""
    from confluent_kafka import Producer

    from infra.kafka_clients import producer_config

    failures: list[str] = []

    def delivered(err: object, msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    producer = Producer(producer_config(bootstrap))
    for topic, key, value in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=delivered)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.5)
        producer.poll(0)
    left = producer.flush(120)
    if failures or left:
        typer.echo(
            f"error: {len(failures) + left} change(s) not delivered ({'; '.join(failures[:3])})",
            err=True,
        )
        raise typer.Exit(code=1)
