"""The master-data records: sites, SKUs, item aliases, 3PL partner profiles, lanes.

The shapes YAML master data is converted to (see `twin.masterdata` for what each field
means to the normalizers); a CSV bundle loads into `twin.catalog_columns` instead, which
builds these structs on demand.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from twin.events import EventType

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
FeedMode = Literal["api", "batch", "3pl"]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]


class Site(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """A warehouse, DC or 3PL site, with how its feed reaches the twin."""

    id: Id
    name: str = ""
    kind: str = "warehouse"
    region: str = ""
    feed_mode: FeedMode
    expected_interval_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    timezone: str = "UTC"
    partner: str | None = None


class Sku(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """A stock-keeping unit: base unit, unit factors to it, value, stock policy per site."""

    id: Id
    name: str = ""
    base_uom: Id
    uom_factors: dict[str, PositiveInt]
    unit_value: Annotated[float, msgspec.Meta(ge=0)]
    reorder_point: dict[str, NonNegativeInt] = {}
    target: dict[str, NonNegativeInt] = {}


class ItemAlias(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A local item code used at one site or by one partner (`scope`) for a canonical SKU."""

    scope: Id
    code: Id
    sku: Id


class PartnerProfile(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """How to read one 3PL partner's flat file (see the module docstring)."""

    id: Id
    name: str = ""
    site: Id
    txn_types: dict[str, EventType]
    timezone: str = "UTC"
    timestamp_format: str = "%Y-%m-%d %H:%M:%S"
    uom_codes: dict[str, str] = {}
    warehouses: dict[str, str] = {}
    to_site_column: str = "TO_WHSE"
    transfer_id_column: str = "XFER_ID"


class Lane(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A transfer lane between two sites and its transit time."""

    from_site: Id
    to_site: Id
    transit_hours: Annotated[float, msgspec.Meta(gt=0)]


class MasterData(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The whole master-data file."""

    sites: list[Site]
    skus: list[Sku]
    aliases: list[ItemAlias] = []
    partners: list[PartnerProfile] = []
    lanes: list[Lane] = []
    version: int = 1
