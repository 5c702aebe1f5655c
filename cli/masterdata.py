"""`invtwin masterdata validate | convert`: check master data, and move it between its forms.

invtwin masterdata validate examples/network-bundle
invtwin masterdata convert examples/network.yaml network-bundle/     (YAML -> CSV bundle)
invtwin masterdata convert network-bundle/ network.yaml              (CSV bundle -> YAML)

A path that is a directory (or, for an output, has no .yaml/.yml suffix) is a CSV bundle.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from twin.catalog_columns import NO_POLICY, CatalogColumns

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
