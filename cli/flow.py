"""Placeholder, replaced by the owner of this command group."""

import typer

app = typer.Typer(no_args_is_help=True)
