"""`invtwin history`: keep the history store (drill-down ledgers, positions over time)."""

from __future__ import annotations

import logging
import signal
from typing import Annotated

import typer

from history.consumer import HistoryConsumer
from history.settings import HistorySettings
from history.store import HistoryStore


def run(
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="Forget every stored row and offset, and read both topics again from their "
            "earliest offsets (what Kafka still retains).",
        ),
    ] = False,
    topic_suffix: Annotated[
        str | None,
        typer.Option(help="Read topics named with this suffix (TWIN_HISTORY_TOPIC_SUFFIX)."),
    ] = None,
) -> None:
    """Consume inventory.events.v1 and twin.positions.v1 into an embedded SQLite database.

    The API answers GET /v1/skus/{sku}/sites/{site}/ledger and GET /v1/skus/{sku}/history
    from it. The database is TWIN_HISTORY_DB (default $TWIN_STATE_DIR/history/history.sqlite);
    rows older than TWIN_HISTORY_RETENTION_S seconds of event time (default 7 days) behind
    the newest are pruned every TWIN_HISTORY_PRUNE_EVERY_S. Offsets are stored in the
    database with the rows, so a restart resumes exactly where it stopped. Stop with Ctrl-C.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    overrides = {} if topic_suffix is None else {"history_topic_suffix": topic_suffix}
    settings = HistorySettings(**overrides)  # type: ignore[arg-type]
    store = HistoryStore(settings.db_path())
    if rebuild:
        store.clear()
        typer.echo("history: cleared; reading both topics from their earliest offsets")
    consumer = HistoryConsumer(settings, store)
    signal.signal(signal.SIGTERM, lambda *_: consumer.stop())
    signal.signal(signal.SIGINT, lambda *_: consumer.stop())
    typer.echo(
        f"history: {settings.db_path()} <- {consumer.events_topic}, {consumer.positions_topic}"
    )
    try:
        consumer.run()
    finally:
        store.close()
