"""`Normalizer`: one entry point that turns any raw feed message into canonical events.

Built once over a master-data index, which may change in place (`masterdata.v1`): the
index's own lookups see a change at once, and `master_changed()` re-indexes the partner
profiles after a partner or site changed. `normalize` never raises.
"""

from __future__ import annotations

from typing import Literal

from twin.errors import FieldError
from twin.masterdata import MasterData, MasterIndex
from twin.normalize.api import normalize_api
from twin.normalize.batch import normalize_batch
from twin.normalize.common import NormalizeResult, rejection
from twin.normalize.threepl import PartnerBook, normalize_3pl

Feed = Literal["api", "batch", "3pl"]
FEEDS: tuple[Feed, ...] = ("api", "batch", "3pl")
# changes after which the partner profiles are indexed again (the rest the index answers)
_PARTNER_ENTITIES = ("partners:", "partner_codes:", "sites:")


class Normalizer:
    """Raw feed messages in, canonical events and structured rejections out."""

    def __init__(self, master: MasterData | MasterIndex) -> None:
        self.index = master if isinstance(master, MasterIndex) else MasterIndex(master)
        self._partners = PartnerBook(self.index)

    def master_changed(self, keys: list[str] | None = None) -> None:
        """The index changed in place; `keys` (`entity:id`) say what, None: anything."""
        if keys is None or any(key.startswith(_PARTNER_ENTITIES) for key in keys):
            self._partners = PartnerBook(self.index)

    def normalize(self, feed: Feed, raw: bytes, *, partner: str | None = None) -> NormalizeResult:
        """Every record of `raw` ends up as an event or a rejection; nothing raises.

        `partner` picks the 3PL partner profile when known (e.g. from the message key);
        otherwise it is found from each row's warehouse code.
        """
        raw = bytes(raw)
        try:
            if feed == "api":
                return normalize_api(self.index, raw)
            if feed == "batch":
                return normalize_batch(self.index, raw)
            if feed == "3pl":
                return normalize_3pl(self._partners, raw, partner)
            error = FieldError(
                field="feed", value=str(feed), code="unknown_feed", message="not a known feed"
            )
        except Exception as exc:
            # A bug, not bad input; still, the message is kept for replay, never lost.
            error = FieldError(
                field="", value=None, code="internal_error", message=f"{type(exc).__name__}: {exc}"
            )
        return NormalizeResult(rejections=[rejection([error], raw)])
