"""Master data: the network's sites, SKUs, item aliases, 3PL partner profiles and lanes.

Two forms, one index (`TWIN_MASTER_DATA` names either):
- a YAML file (e.g. `examples/network.yaml`) for small hand-written networks, converted to
  msgspec Structs (`MasterData`, records in `twin.masterdata_types`);
- a CSV bundle, a directory with one file per entity as ERPs export them (e.g.
  `examples/network-bundle/`, read by `twin.masterdata_csv`), loaded straight into columns
  (`twin.catalog_columns`) so a catalogue of 100,000 SKUs x 20 sites fits in one process.
Both are checked as a whole on load: `MasterDataError` lists every problem found, not the
first, and nothing half-loaded is returned. `load_master_index(path)` reads either into a
`MasterIndex`, which answers the hot-path lookups (site, SKU, alias, unit conversion, lanes).

3PL partner files (DESIGN, `feeds.3pl.v1`) are read with a `PartnerProfile`:
- `txn_types` maps the partner's codes (REC, PUT, SHP, PCK, ADJ, CNT, HLD, REL, RET, TRO,
  TRI) to event types; TRO is a transfer out (TRANSFER_SHIPPED), TRI a transfer in
  (TRANSFER_RECEIVED);
- transfers carry the destination and the transfer id in optional extra columns after the
  fixed header, named by `to_site_column` (default `TO_WHSE`) and `transfer_id_column`
  (default `XFER_ID`); an optional `REF` column fills `ref`;
- `warehouses` maps the partner's warehouse codes (WHSE, TO_WHSE) to site ids; a code that
  is already a site id is taken as it is;
- `timestamp_format` (strptime) and `timezone` read the local TXN_TS, converted to UTC;
- `uom_codes` maps the partner's unit codes (CS, PL, EA) to UoM names of the SKUs.

Unknown keys are errors (a misspelt `reorder_piont` must not be silently ignored).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml

from twin.catalog_columns import CatalogColumns, SkuViews
from twin.errors import MasterDataError, TwinError
from twin.events import MAX_QTY, EventType
from twin.masterdata_types import (
    FeedMode,
    Id,
    ItemAlias,
    Lane,
    MasterData,
    NonNegativeInt,
    PartnerProfile,
    PositiveInt,
    Site,
    Sku,
)

__all__ = [
    "MAX_BASE_QTY",
    "ConversionError",
    "FeedMode",
    "Id",
    "ItemAlias",
    "Lane",
    "MasterData",
    "MasterIndex",
    "NonNegativeInt",
    "PartnerProfile",
    "PositiveInt",
    "Site",
    "Sku",
    "check_master_data",
    "dump_master_data",
    "load_master_data",
    "load_master_index",
    "parse_master_data",
    "utc_from_local",
]

MAX_BASE_QTY = MAX_QTY  # also keeps hostile numbers (1e999999) from building huge integers


class ConversionError(TwinError):
    """A quantity could not be converted to base units; `code` is the rejection code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


# --------------------------------------------------------------------------- loading


def load_master_index(path: str | Path) -> MasterIndex:
    """The index of a master-data YAML file or CSV bundle directory, checked as a whole.

    A bundle loads straight into columns, never as a struct per SKU: this is the loader for
    catalogue-sized networks.
    """
    if Path(path).is_dir():
        from twin.masterdata_csv import read_bundle  # the CSV reader only when used

        return MasterIndex(read_bundle(path))
    return MasterIndex(load_master_data(path))


def load_master_data(path: str | Path) -> MasterData:
    """Read, convert and check a master-data YAML file (or a CSV bundle directory).

    A bundle is given back as `MasterData` for callers that want the structs; at catalogue
    size use `load_master_index`, which keeps it in columns.
    """
    if Path(path).is_dir():
        from twin.masterdata_csv import read_bundle

        return read_bundle(path).to_master_data()
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise MasterDataError([f"cannot read master data file {path}: {exc}"]) from exc
    return parse_master_data(text)


def parse_master_data(text: str | bytes) -> MasterData:
    """Convert master-data YAML text and check it; `MasterDataError` lists every problem."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # same rules, C speed
    try:
        doc = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise MasterDataError([f"not valid YAML: {exc}"]) from exc
    if not isinstance(doc, dict):
        raise MasterDataError(["the file must be a mapping with sites, skus, aliases, ..."])
    errors: list[str] = []
    sections: dict[str, list[Any]] = {}
    broken: set[str] = set()  # ids of items already reported, so they are not "unknown" too
    for name, item_type in _SECTIONS.items():
        sections[name] = _convert_section(doc, name, item_type, errors, broken)
    unknown = sorted(set(doc) - set(_SECTIONS) - {"version"})
    errors.extend(f"unknown top-level key {key!r}" for key in unknown)
    md = MasterData(
        sites=sections["sites"],
        skus=sections["skus"],
        aliases=sections["aliases"],
        partners=sections["partners"],
        lanes=sections["lanes"],
    )
    errors.extend(check_master_data(md, broken))
    if errors:
        raise MasterDataError(errors)
    return md


_SECTIONS: dict[str, type[msgspec.Struct]] = {
    "sites": Site,
    "skus": Sku,
    "aliases": ItemAlias,
    "partners": PartnerProfile,
    "lanes": Lane,
}
_REQUIRED_SECTIONS = frozenset({"sites", "skus"})


def _convert_section(
    doc: dict[Any, Any],
    name: str,
    item_type: type[msgspec.Struct],
    errors: list[str],
    broken: set[str],
) -> list[Any]:
    # Items are converted one by one so that every bad item is reported, not only the first.
    raw = doc.get(name)
    if raw is None:
        if name in _REQUIRED_SECTIONS:
            errors.append(f"{name}: missing (a list is required)")
        return []
    if not isinstance(raw, list):
        errors.append(f"{name}: must be a list")
        return []
    items: list[Any] = []
    for i, item in enumerate(raw):
        if item_type is PartnerProfile and _bad_txn_types(item, errors):
            broken.add(str(item.get("id")))
            continue
        try:
            items.append(msgspec.convert(item, item_type))
        except msgspec.ValidationError as exc:
            label = item.get("id") if isinstance(item, dict) else None
            if label is not None:
                broken.add(str(label))
            where = f"{name}[{i}]" + (f" ({label})" if label else "")
            errors.append(f"{where}: {str(exc).replace('$.', '').replace('`$`', 'the item')}")
    return items


def _bad_txn_types(item: Any, errors: list[str]) -> bool:
    # msgspec would only say "Invalid enum value ... at txn_types[...]"; name the code.
    codes = item.get("txn_types") if isinstance(item, dict) else None
    if not isinstance(codes, dict):
        return False
    valid = {t.value for t in EventType}
    bad = {code: value for code, value in codes.items() if value not in valid}
    for code, value in bad.items():
        errors.append(
            f"partner {item.get('id')}: code {code!r} maps to {value!r}, which is not an event"
            f" type ({', '.join(sorted(valid))})"
        )
    return bool(bad)


def dump_master_data(md: MasterData) -> str:
    """The YAML text of master data (what `load_master_data` reads back)."""
    builtins = msgspec.to_builtins(md)
    return yaml.safe_dump(builtins, sort_keys=False, default_flow_style=None, width=100)


# --------------------------------------------------------------------------- checks


def check_master_data(md: MasterData, broken: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Every consistency problem of converted master data, as sentences a person can fix.

    `broken` holds ids of items that failed conversion (already reported): references to
    them are not reported again as unknown.
    """
    errors: list[str] = []
    site_ids = _unique_ids("sites", (s.id for s in md.sites), errors) | broken
    sku_ids = _unique_ids("skus", (s.id for s in md.skus), errors) | broken
    partner_ids = _unique_ids("partners", (p.id for p in md.partners), errors) | broken
    partners = {p.id: p for p in md.partners}
    known_uoms = {uom for sku in md.skus for uom in sku.uom_factors}
    for site in md.sites:
        if site.partner not in broken:
            errors.extend(_check_site(site, partners))
    for sku in md.skus:
        errors.extend(_check_sku(sku, site_ids))
    seen_alias: set[tuple[str, str]] = set()
    for alias in md.aliases:
        key = (alias.scope, alias.code)
        if key in seen_alias:
            errors.append(f"aliases: code {alias.code!r} appears twice in scope {alias.scope!r}")
        seen_alias.add(key)
        if alias.scope not in site_ids and alias.scope not in partner_ids:
            errors.append(
                f"aliases: scope {alias.scope!r} of code {alias.code!r} is neither a site"
                " nor a partner"
            )
        if alias.sku not in sku_ids:
            errors.append(f"aliases: code {alias.code!r} maps to unknown sku {alias.sku!r}")
    for partner in md.partners:
        errors.extend(_check_partner(partner, site_ids, known_uoms))
    seen_lane: set[tuple[str, str]] = set()
    for lane in md.lanes:
        errors.extend(_check_lane(lane, site_ids, seen_lane))
    return errors


def _unique_ids(section: str, ids: Iterable[str], errors: list[str]) -> set[str]:
    seen: set[str] = set()
    for id_ in ids:
        if id_ in seen:
            errors.append(f"{section}: duplicate id {id_!r}")
        seen.add(id_)
    return seen


def check_timezone(where: str, name: str) -> list[str]:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return [f"{where}: unknown time zone {name!r} (use an IANA name such as Europe/Paris)"]
    return []


def _check_site(site: Site, partners: dict[str, PartnerProfile]) -> list[str]:
    where = f"site {site.id}"
    errors = check_timezone(where, site.timezone)
    if site.partner is not None and site.partner not in partners:
        errors.append(f"{where}: partner {site.partner!r} has no partner profile")
    if site.feed_mode == "3pl" and not any(p.site == site.id for p in partners.values()):
        errors.append(f"{where}: feed_mode 3pl needs a partner profile whose site is {site.id}")
    return errors


def _check_sku(sku: Sku, site_ids: set[str]) -> list[str]:
    where = f"sku {sku.id}"
    errors: list[str] = []
    factor = sku.uom_factors.get(sku.base_uom)
    if factor is None:
        errors.append(f"{where}: uom_factors has no entry for base_uom {sku.base_uom!r}")
    elif factor != 1:
        errors.append(f"{where}: base_uom {sku.base_uom!r} must have factor 1, not {factor}")
    for field, per_site in (("reorder_point", sku.reorder_point), ("target", sku.target)):
        for site in per_site:
            if site not in site_ids:
                errors.append(f"{where}: {field} names unknown site {site!r}")
    for site, point in sku.reorder_point.items():
        target = sku.target.get(site)
        if target is not None and point > target:
            errors.append(f"{where}: reorder_point {point} at {site} is above its target {target}")
    return errors


def _check_partner(partner: PartnerProfile, site_ids: set[str], known_uoms: set[str]) -> list[str]:
    where = f"partner {partner.id}"
    errors = check_timezone(where, partner.timezone)
    if partner.site not in site_ids:
        errors.append(f"{where}: unknown site {partner.site!r}")
    for code, site in partner.warehouses.items():
        if site not in site_ids:
            errors.append(f"{where}: warehouse code {code!r} maps to unknown site {site!r}")
    for code, uom in partner.uom_codes.items():
        if uom not in known_uoms:
            errors.append(f"{where}: uom code {code!r} maps to {uom!r}, which no SKU has")
    if not partner.txn_types:
        errors.append(f"{where}: txn_types is empty")
    errors.extend(check_timestamp_format(where, partner.timestamp_format))
    return errors


def check_timestamp_format(where: str, fmt: str) -> list[str]:
    # A format must read back what it writes down to the second, or times would shift.
    sample = datetime(2026, 11, 26, 10, 2, 3)  # noqa: DTZ001 - a local wall-clock sample
    try:
        again = datetime.strptime(sample.strftime(fmt), fmt)  # noqa: DTZ007 - local by design
    except ValueError as exc:
        return [f"{where}: bad timestamp_format {fmt!r}: {exc}"]
    if again != sample:
        return [f"{where}: timestamp_format {fmt!r} does not keep date and time to the second"]
    return []


def _check_lane(lane: Lane, site_ids: set[str], seen: set[tuple[str, str]]) -> list[str]:
    where = f"lane {lane.from_site}->{lane.to_site}"
    errors: list[str] = []
    for end in (lane.from_site, lane.to_site):
        if end not in site_ids:
            errors.append(f"{where}: unknown site {end!r}")
    if lane.from_site == lane.to_site:
        errors.append(f"{where}: a lane must join two different sites")
    key = (lane.from_site, lane.to_site)
    if key in seen:
        errors.append(f"{where}: duplicate lane")
    seen.add(key)
    return errors


# --------------------------------------------------------------------------- index


class MasterIndex:
    """Lookups over master data, built once; every lookup is a dict get or an array read.

    Built from YAML's `MasterData` or from a CSV bundle's `CatalogColumns`; either way the
    SKUs live in columns, and `skus` is a mapping of `Sku` structs (the YAML's own, or views
    built on demand over the columns, never the whole catalogue at once).
    `site(id)` and `sku(id)` raise `KeyError` for unknown ids (like a dict); `get_site` and
    `get_sku` return None instead.
    """

    def __init__(self, master: MasterData | CatalogColumns) -> None:
        self.skus: Mapping[str, Sku]
        if isinstance(master, MasterData):
            self._md: MasterData | None = master
            self.columns = CatalogColumns.from_master(master)
            self.skus = {s.id: s for s in master.skus}
        else:
            self._md = None
            self.columns = master
            self.skus = SkuViews(master)
        cols = self.columns
        self.sites: dict[str, Site] = {s.id: s for s in cols.sites}
        self.partners: dict[str, PartnerProfile] = {p.id: p for p in cols.partners}
        self._sku_pos = cols.sku_pos
        self._aliases = cols.aliases
        self._lanes_from: dict[str, list[Lane]] = {}
        self._lanes_to: dict[str, list[Lane]] = {}
        self._lanes: dict[tuple[str, str], Lane] = {}
        for lane in cols.lanes:
            self._lanes_from.setdefault(lane.from_site, []).append(lane)
            self._lanes_to.setdefault(lane.to_site, []).append(lane)
            self._lanes[(lane.from_site, lane.to_site)] = lane
        self.zones: dict[str, ZoneInfo] = {s.id: ZoneInfo(s.timezone) for s in cols.sites}

    @property
    def md(self) -> MasterData:
        """The catalogue as `MasterData` (built from the columns, once, when first asked)."""
        if self._md is None:
            self._md = self.columns.to_master_data()
        return self._md

    def site(self, site_id: str) -> Site:
        return self.sites[site_id]

    def sku(self, sku_id: str) -> Sku:
        return self.skus[sku_id]

    def get_site(self, site_id: str) -> Site | None:
        return self.sites.get(site_id)

    def get_sku(self, sku_id: str) -> Sku | None:
        return self.skus.get(sku_id)

    def partner(self, partner_id: str) -> PartnerProfile:
        return self.partners[partner_id]

    @property
    def site_ids(self) -> list[str]:
        return [s.id for s in self.columns.sites]

    @property
    def sku_ids(self) -> list[str]:
        return list(self.columns.sku_ids)

    def lanes_from(self, site_id: str) -> list[Lane]:
        return self._lanes_from.get(site_id, [])

    def lanes_to(self, site_id: str) -> list[Lane]:
        return self._lanes_to.get(site_id, [])

    def lane(self, from_site: str, to_site: str) -> Lane | None:
        return self._lanes.get((from_site, to_site))

    def reorder_point(self, sku_id: str, site_id: str) -> int:
        """The SKU's reorder point at a site (0 when the site has no policy for it)."""
        cols = self.columns
        return cols.policy(self._sku_pos[sku_id], site_id, cols.reorder_point)

    def target(self, sku_id: str, site_id: str) -> int:
        """The SKU's target stock at a site (0 when the site has no policy for it)."""
        cols = self.columns
        return cols.policy(self._sku_pos[sku_id], site_id, cols.target)

    def resolve_item(self, scope: str, code: str) -> str | None:
        """The canonical SKU id for an item code seen at a site or from a partner.

        A canonical SKU id is accepted as it is; otherwise the alias of that scope; None when
        neither exists.
        """
        if code in self._sku_pos:
            return code
        codes = self._aliases.get(scope)
        return codes.get(code) if codes is not None else None

    def base_qty(self, sku_id: str, qty: int | float | Decimal | str, uom: str) -> int:
        """`qty` of `uom` in the SKU's base units, as an exact integer.

        Raises `ConversionError` with code `unknown_sku`, `unknown_uom`, `bad_qty` or
        `fractional_qty` (e.g. 1.5 each, or 0.3 case of 12). Floats are read through their
        shortest decimal form, so 0.1 case of 30 is exactly 3.
        """
        i = self._sku_pos.get(sku_id)
        if i is None:
            raise ConversionError("unknown_sku", f"unknown sku {sku_id!r}")
        factor = self.columns.factor(i, uom)
        if factor is None:
            units = ", ".join(sorted(self.columns.units(i)))
            raise ConversionError(
                "unknown_uom", f"sku {sku_id} has no unit {uom!r} (it has: {units})"
            )
        if type(qty) is int:  # the common case, kept exact and cheap
            if -MAX_BASE_QTY <= qty * factor <= MAX_BASE_QTY:
                return qty * factor
            raise ConversionError("bad_qty", f"quantity {qty} {uom} is out of range")
        try:
            exact = Decimal(qty) if isinstance(qty, Decimal) else Decimal(str(qty))
            base = exact * factor
            if not base.is_finite():
                raise ConversionError("bad_qty", f"quantity {qty!r} is not a finite number")
            integral = base.to_integral_value()
        except InvalidOperation as exc:
            raise ConversionError("bad_qty", f"quantity {qty!r} is not a number") from exc
        if not -MAX_BASE_QTY <= integral <= MAX_BASE_QTY:
            raise ConversionError("bad_qty", f"quantity {qty} {uom} is out of range")
        if base != integral:
            raise ConversionError(
                "fractional_qty",
                f"{qty} {uom} of {sku_id} is {base} {self.columns.uoms[self.columns.base_uom[i]]}:"
                " not a whole number",
            )
        return int(integral)

    # The name used in docs/internal-contracts.md.
    to_base_qty = base_qty


def utc_from_local(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall-clock time in `zone` as an aware UTC datetime.

    Ambiguous times (the repeated hour when clocks go back) take the first occurrence
    (fold=0). Times that do not exist (the skipped hour when clocks go forward) raise
    `ValueError`, since no real event happened then.
    """
    aware = local.replace(tzinfo=zone)
    as_utc = aware.astimezone(UTC)
    if as_utc.astimezone(zone).replace(tzinfo=None) != local:
        raise ValueError(f"{local.isoformat()} does not exist in {zone.key} (clocks went forward)")
    return as_utc
