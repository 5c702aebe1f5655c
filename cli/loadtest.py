"""Placeholder, replaced by the owner of this command."""


def run() -> None:
    raise SystemExit("not implemented yet")
