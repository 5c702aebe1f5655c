"""`invtwin dlq list | replay`: browse the dead letters, and re-send the ones master data now fixes.

invtwin dlq list --since 2h                        (every letter of the last two hours)
invtwin dlq list --since 2026-12-04T08:00Z --reason unknown_sku
invtwin dlq replay --since 1d --dry-run            (what would be re-sent, and why not the rest)
invtwin dlq replay --since 1d

A dead letter (`inventory.dlq.v1`) keeps the rejected record's exact bytes and the topic it
came from. `replay` re-sends those bytes to that topic when the rejection was for master data
(an unknown SKU, alias, site, unit, partner or transaction type, or a quantity not whole in
the SKU's units) and the master data now has what was missing: each letter is first run
through the normalizer over the flows' master data (`TWIN_MASTER_DATA` plus what
`masterdata.v1` holds) and left alone if it would be rejected again.

Replaying never counts an event twice: a record's event id is stable (the caller's
`event_id`, `3pl:<partner>:<TXN_ID>` for a partner's row), and the twin ignores an event id
it has applied within its horizon (`TWIN_FLOW_HORIZON_S`), so replaying the same letters
again, or a letter whose record was meanwhile resent by its source, changes nothing. A letter
older than the horizon is dead-lettered again as `outside_horizon` instead.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from dataflows.settings import FlowSettings
    from twin.masterdata import MasterIndex
    from twin.wire import DeadLetter

app = typer.Typer(no_args_is_help=True)

# Rejections master data can fix; any other (a malformed record, outside the horizon, an id
# conflict) would be rejected again whatever is published.
REPLAYABLE = frozenset(
    {
        "unknown_sku",
        "unknown_site",
        "unknown_uom",
        "unknown_partner",
        "unknown_txn_type",
        "fractional_qty",
    }
)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}

SinceOption = Annotated[
    str,
    typer.Option(
        help="Letters written since: an ISO time (2026-12-04T08:00Z) or an age (30m, 2h, 7d)."
    ),
]
ReasonOption = Annotated[
    list[str] | None,
    typer.Option("--reason", help="Only letters with this error code (repeat for more)."),
]
BootstrapOption = Annotated[
    str | None, typer.Option(help="Kafka brokers (default TWIN_KAFKA_BOOTSTRAP).")
]
TopicOption = Annotated[
    str | None,
    typer.Option(help="The DLQ topic (default inventory.dlq.v1 + TWIN_FLOW_TOPIC_SUFFIX)."),
]


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An ISO-8601 time (UTC when it names no zone) or an age before now (`90m`, `2h`, `7d`)."""
    match = _DURATION.match(text.strip())
    if match is not None:
        age = float(match.group(1)) * _UNIT_S[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=age)
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r} is neither an ISO time nor an age such as 30m, 2h or 7d"
        ) from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class Letter:
    """A dead letter and when it was written (the Kafka timestamp, wall clock)."""

    __slots__ = ("letter", "written_at")

    def __init__(self, letter: DeadLetter, written_at: datetime) -> None:
        self.letter = letter
        self.written_at = written_at

    @property
    def replayable(self) -> bool:
        return self.letter.error_code in REPLAYABLE and self.letter.original_size is None


def read_letters(
    bootstrap: str, topic: str, since: datetime, reasons: list[str] | None
) -> list[Letter]:
    """The letters written at or after `since`, of the given error codes (None: all)."""
    from cli.topic_scan import ScanError, scan
    from twin.wire import dead_letter_decoder

    since_ms = int(since.timestamp() * 1000)
    letters: list[Letter] = []
    try:
        for msg in scan(bootstrap, topic, since_ms=since_ms, timeout_s=600.0):
            _kind, stamp = msg.timestamp()
            if msg.value() is None or stamp < since_ms:
                continue
            try:
                letter = dead_letter_decoder.decode(msg.value())
            except Exception:  # not a dead letter: nothing to show or replay
                continue
            if reasons and letter.error_code not in reasons:
                continue
            letters.append(Letter(letter, datetime.fromtimestamp(stamp / 1000, UTC)))
    except (ScanError, TimeoutError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    return letters


def describe(item: Letter) -> str:
    d = item.letter
    where = f"{d.source_topic}[{d.partition}]@{d.offset}"
    if d.record_index is not None:
        where += f" record {d.record_index}"
    site = f" site {d.site}" if d.site else ""
    cut = " (cut: not replayable)" if d.original_size is not None else ""
    return (
        f"{item.written_at.isoformat(timespec='seconds')} {d.error_code} {where}{site}:"
        f" {d.message}{cut}"
    )


@app.command("list")
def list_cmd(
    since: SinceOption = "1d",
    reason: ReasonOption = None,
    limit: Annotated[int, typer.Option(min=0, help="Show at most this many (0: all).")] = 100,
    bootstrap: BootstrapOption = None,
    topic: TopicOption = None,
) -> None:
    """List dead letters: when, why (error code and message), where from; then a count per
    reason and how many could be replayed once master data has what they lacked."""
    settings = _kafka_settings()
    from infra.topics import INVENTORY_DLQ

    name = topic or settings.topic(INVENTORY_DLQ)
    letters = read_letters(bootstrap or settings.kafka_bootstrap, name, parse_since(since), reason)
    shown = letters if limit == 0 else letters[:limit]
    for item in shown:
        typer.echo(describe(item))
    if len(shown) < len(letters):
        typer.echo(f"... {len(letters) - len(shown)} more (--limit 0 shows all)")
    counts = Counter(item.letter.error_code for item in letters)
    per_reason = ", ".join(f"{code} {n}" for code, n in counts.most_common()) or "none"
    replayable = sum(item.replayable for item in letters)
    typer.echo(f"{len(letters)} dead letter(s) on {name}: {per_reason}; {replayable} replayable")


@app.command("replay")
def replay_cmd(
    since: SinceOption,
    reason: ReasonOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be re-sent; send nothing.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            help="Re-send only letters the current master data now accepts (--no-check: every"
            " replayable letter)."
        ),
    ] = True,
    master_data: Annotated[
        Path | None,
        typer.Option(help="Master data the flows start from (default TWIN_MASTER_DATA)."),
    ] = None,
    bootstrap: BootstrapOption = None,
    topic: TopicOption = None,
) -> None:
    """Re-send the original bytes of replayable dead letters to the topic they came from.

    Replayable: rejected for master data (unknown SKU, alias, site, unit, partner or
    transaction type; a quantity not whole in the SKU's units) and not cut to fit the DLQ.
    With --check (the default) a letter is re-sent only if the normalizer, over the master
    data plus what masterdata.v1 holds, now accepts it. The same record dead-lettered more
    than once is re-sent once. Never double counts: event ids are stable and the twin ignores
    an id it has applied within its horizon.
    """
    settings = _kafka_settings()
    from infra.topics import INVENTORY_DLQ

    brokers = bootstrap or settings.kafka_bootstrap
    letters = read_letters(
        brokers, topic or settings.topic(INVENTORY_DLQ), parse_since(since), reason
    )
    skipped: Counter[str] = Counter()
    chosen: dict[tuple[str, bytes], DeadLetter] = {}
    for item in letters:
        d = item.letter
        if not item.replayable:
            skipped[f"not replayable ({d.error_code})"] += 1
        elif (d.source_topic, bytes(d.original)) in chosen:
            skipped["the same record again"] += 1
        else:
            chosen[(d.source_topic, bytes(d.original))] = d
    if check and chosen:
        index = _current_master(brokers, settings, master_data)
        for key, d in list(chosen.items()):
            still = still_rejected(index, d)
            if still is not None:
                skipped[f"still rejected ({still})"] += 1
                del chosen[key]
    if not dry_run and chosen:
        from cli.masterdata import produce_records

        produce_records(
            brokers, [(d.source_topic, None, bytes(d.original)) for d in chosen.values()]
        )
    per_topic = Counter(d.source_topic for d in chosen.values())
    verb = "would replay" if dry_run else "replayed"
    where = ", ".join(f"{t} {n}" for t, n in sorted(per_topic.items())) or "nothing"
    typer.echo(f"{verb} {len(chosen)} of {len(letters)} dead letter(s): {where}")
    for why, n in sorted(skipped.items()):
        typer.echo(f"  left: {n} {why}")


def feed_of(topic: str) -> str | None:
    """The feed a raw topic carries (its name may end with a test's suffix)."""
    from infra.topics import FEEDS_3PL, FEEDS_API, FEEDS_BATCH

    for name, feed in ((FEEDS_API, "api"), (FEEDS_BATCH, "batch"), (FEEDS_3PL, "3pl")):
        if topic == name or topic.startswith(name + "."):
            return feed
    return None


def still_rejected(index: MasterIndex, letter: DeadLetter) -> str | None:
    """None when the normalizer now accepts the letter's record, else the first error code."""
    from twin.normalize.normalizer import Normalizer

    feed = feed_of(letter.source_topic)
    if feed is None:
        return "not a feed topic"
    result = Normalizer(index).normalize(feed, bytes(letter.original))  # type: ignore[arg-type]
    if result.rejections:
        rejection = result.rejections[0]
        return rejection.errors[0].code if rejection.errors else "rejected"
    return None if result.events else "no event"


def _current_master(bootstrap: str, settings: FlowSettings, path: Path | None) -> MasterIndex:
    """The flows' master data now: the file they start from, with masterdata.v1 applied."""
    from cli.topic_scan import ScanError, scan
    from infra.topics import MASTERDATA
    from twin.errors import MasterDataError
    from twin.masterdata import load_master_index
    from twin.masterdata_changes import ChangeError, apply_record

    try:
        index = load_master_index(path or settings.master_data)
    except MasterDataError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    try:
        for msg in scan(bootstrap, settings.topic(MASTERDATA), timeout_s=600.0):
            if msg.key() is not None:
                try:
                    apply_record(index, msg.key(), msg.value())
                except (ChangeError, UnicodeDecodeError):
                    continue  # the flows skip it too
    except ScanError:
        pass  # no masterdata.v1: the file alone is the master data
    return index


def _kafka_settings() -> FlowSettings:
    from dataflows.settings import FlowSettings

    return FlowSettings()
