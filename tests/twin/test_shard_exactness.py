"""A shard hands every event it does not apply back with a code the flow can route.

Conflicting ids, events outside the horizon and event times the core cannot hold change
nothing, are counted, and never stop a batch, whatever arrives or in which order.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from tests.twin.factories import at, ev, master
from twin.errors import ValidationFailed
from twin.shard import (
    APPLIED,
    CONFLICT,
    DUPLICATE,
    EXPIRED,
    REJECTED,
    TwinConfig,
    TwinShard,
)
from twin.windows import WindowConfig

NOW = at(3600)
FAR_PAST = datetime(1, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 12, 31, 23, 45, tzinfo=UTC)


def on_hand_receiving(shard: TwinShard, site: str = "WH-01") -> tuple[int, int]:
    sp = shard.position("SKU-1", NOW).sites[site]
    return sp.on_hand, sp.receiving


def test_a_batch_codes_conflicts_duplicates_expired_and_rejected_per_event() -> None:
    shard = TwinShard(master(), TwinConfig(windows=WindowConfig()))
    first = ev("RECEIVED", 11, t=0, event_id="collide-1")
    shard.apply_batch([ev("COUNTED", 100, t=-10), first], NOW)
    late = ev("RECEIVED", 5, t=10, event_id="late")
    batch = [
        msgspec.structs.replace(first, qty=13),  # same id, other content
        first,  # same id, same content
        msgspec.structs.replace(ev("RECEIVED", 5, t=0), occurred_at=FAR_FUTURE),
        msgspec.structs.replace(ev("RECEIVED", 5, t=0), occurred_at=FAR_PAST),
        ev("ADJUSTED", 1, t=8 * 24 * 3600),  # moves the horizon 8 days on
        late,  # now more than 7 days behind the newest event of the SKU
    ]
    result = shard.apply_batch(batch, at(8 * 24 * 3600 + 60))  # the clock 8 days on too
    assert list(result.codes) == [CONFLICT, DUPLICATE, REJECTED, REJECTED, APPLIED, EXPIRED]
    assert on_hand_receiving(shard) == (100 + 11 + 1, 11)
    stats = shard.stats()
    assert (stats["conflicts"], stats["duplicates"], stats["expired"], stats["applied"]) == (
        1,
        1,
        1,
        3,
    )


def test_apply_reports_a_conflict_and_refuses_an_impossible_time_without_crashing() -> None:
    shard = TwinShard(master())
    shard.apply(ev("RECEIVED", 11, t=0, event_id="collide-1"), NOW)
    outcome = shard.apply(ev("RECEIVED", 13, t=0, event_id="collide-1"), NOW)
    assert (outcome.conflict, outcome.duplicate, outcome.changed) == (True, False, False)
    for when in (FAR_PAST, FAR_FUTURE):
        with pytest.raises(ValidationFailed):
            shard.apply(msgspec.structs.replace(ev("RECEIVED", 5), occurred_at=when), NOW)
    assert on_hand_receiving(shard) == (11, 11)
    assert shard.stats()["conflicts"] == 1


@pytest.mark.parametrize("when", [FAR_PAST, datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC), FAR_FUTURE])
def test_an_extreme_time_as_a_shards_first_event_changes_nothing(when: datetime) -> None:
    # windows on: the path that overflowed on such a time before
    shard = TwinShard(master(), TwinConfig(windows=WindowConfig()))
    result = shard.apply_batch(
        [msgspec.structs.replace(ev("RECEIVED", 5), occurred_at=when), ev("RECEIVED", 3, t=1)],
        NOW,
    )
    assert list(result.codes) == [REJECTED, APPLIED]
    # no phantom split: on_hand and receiving move together, or not at all
    assert on_hand_receiving(shard) == (3, 3)
    assert shard.take_closed_windows(NOW, flush=True)[0]


def test_a_shard_pickles_and_an_old_pickle_without_the_conflict_counter_resumes() -> None:
    import pickle

    shard = TwinShard(master())
    shard.apply(ev("RECEIVED", 11, t=0, event_id="X"), NOW)
    state = shard.__getstate__()
    del state["conflicts"]
    old = TwinShard.__new__(TwinShard)
    old.__setstate__(state)
    assert old.apply(ev("RECEIVED", 12, t=0, event_id="X"), NOW).conflict
    assert old.stats()["conflicts"] == 1
    copy = pickle.loads(pickle.dumps(old))
    assert copy.stats() == old.stats()
