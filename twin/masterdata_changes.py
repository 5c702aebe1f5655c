"""The records of the compacted topic `masterdata.v1`, and how a change lands in a loaded index.

A record is one master-data row:

- key: `ENTITY:ID` (UTF-8), the entity one of `ENTITIES` (the CSV bundle's files) and the id
  its primary key; a compound id joins its parts with `@` (`item_sites:SKU@SITE`,
  `aliases:SCOPE@CODE`, `uom_conversions:SKU@UOM`, `lanes:FROM@TO`), a part's own `%` and `@`
  written `%25` and `%40`;
- value: the row as a JSON object with the bundle's column names (`twin.masterdata_sheet`),
  cells as strings as in the CSV file or as JSON numbers; a partner carries its
  `partner_codes.csv` rows in `codes`. A null value (tombstone) deletes the row.

`decode_change` checks a record the way the bundle reader checks a row (same parsers, every
problem in one `ChangeError`); `index_rows` and `diff_rows` give the records that turn one
catalogue into another (upserts parents first, deletes children first); `apply_change` /
`apply_record` change a `MasterIndex` in place (flows and API share them). A compacted topic
keeps only each key's last record, so a child (an item-site) can come before its parent (an
item republished later): such a change waits, per index, until its parent arrives.
"""

from __future__ import annotations

import math
import weakref
from array import array
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from twin.catalog_columns import NO_POLICY, CatalogColumns, SkuViews
from twin.errors import TwinError
from twin.masterdata import MasterIndex, check_timezone
from twin.masterdata_sheet import BUNDLE_COLUMNS, CODE_KINDS, EVENT_TYPES, FEED_MODES, MAX_ID_LENGTH
from twin.masterdata_types import Lane, PartnerProfile, Site

# In the order a whole catalogue is written: a row's parents before it.
ENTITIES = ("sites", "partners", "items", "uom_conversions", "item_sites", "aliases", "lanes")
_ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "sites": ("site",),
    "partners": ("partner",),
    "items": ("sku",),
    "uom_conversions": ("sku", "uom"),
    "item_sites": ("sku", "site"),
    "aliases": ("scope", "code"),
    "lanes": ("from_site", "to_site"),
}
_CODE_COLUMNS = ("kind", "code", "value")

Row = dict[str, Any]  # a row as decoded: the bundle's columns, cells parsed to their types


class ChangeError(TwinError):
    """A `masterdata.v1` record that is not a well-formed change; `errors` says every problem."""

    def __init__(self, key: str, errors: list[str]) -> None:
        self.key = key
        self.errors = errors
        super().__init__(f"masterdata change {key!r}: " + "; ".join(errors))


class Change(msgspec.Struct, frozen=True):
    """One row set (`row`) or deleted (`row is None`)."""

    entity: str
    id: str
    row: Row | None

    @property
    def key(self) -> str:
        return f"{self.entity}:{self.id}"


# --------------------------------------------------------------------------- keys


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace("@", "%40")


def _unescape(part: str) -> str:
    return part.replace("%40", "@").replace("%25", "%")


def row_id(entity: str, row: Mapping[str, Any]) -> str:
    """The id of `row` in its record's key."""
    return "@".join(_escape(str(row[c])) for c in _ID_COLUMNS[entity])


def id_parts(entity: str, ident: str) -> dict[str, str]:
    """The id columns named by a key's id (`item_sites`, `A@B` -> sku A, site B)."""
    columns = _ID_COLUMNS[entity]
    parts = ident.split("@")
    if len(parts) != len(columns) or not all(parts):
        joined = "@".join(c.upper() for c in columns)
        raise ChangeError(f"{entity}:{ident}", [f"the id must be {joined}"])
    if "%" not in ident:  # nothing escaped: the common case, kept cheap
        return dict(zip(columns, parts, strict=True))
    return {c: _unescape(p) for c, p in zip(columns, parts, strict=True)}


def split_key(key: bytes | str) -> tuple[str, str]:
    text = key.decode() if isinstance(key, bytes) else key
    entity, sep, ident = text.partition(":")
    if not sep or entity not in _ID_COLUMNS:
        raise ChangeError(text, [f"the key must be ENTITY:ID, ENTITY one of {', '.join(ENTITIES)}"])
    return entity, ident


# --------------------------------------------------------------------------- encode / decode


def encode_change(change: Change) -> tuple[bytes, bytes | None]:
    """The record (key, value) of a change; value None deletes."""
    value = None if change.row is None else msgspec.json.encode(change.row)
    return change.key.encode(), value


def decode_change(key: bytes | str, value: bytes | None) -> Change:
    """The change a record says, checked as the bundle reader checks a row."""
    entity, ident = split_key(key)
    where = f"{entity}:{ident}"
    parts = id_parts(entity, ident)
    if value is None:
        return Change(entity, ident, None)
    fast_decode = _FAST_PATHS.get(entity)
    if fast_decode is not None:
        fast = fast_decode(value, parts)
        if fast is not None:
            return Change(entity, ident, fast)
    try:
        raw = msgspec.json.decode(value)
    except msgspec.DecodeError as exc:
        raise ChangeError(where, [f"the value is not JSON ({exc})"]) from exc
    if not isinstance(raw, dict):
        raise ChangeError(where, ["the value must be a JSON object (a row) or null"])
    errors: list[str] = []
    row = _parse_row(entity, raw, errors)
    for column, part in parts.items():
        if column in row and row[column] != part:
            errors.append(f"{column} {row[column]!r} is not the key's {part!r}")
    if errors:
        raise ChangeError(where, errors)
    return Change(entity, ident, row)


class _ItemSiteRow(msgspec.Struct, forbid_unknown_fields=True):
    """An item-site row as publish writes it (ids, figures as numbers or null)."""

    sku: str
    site: str
    reorder_point: int | None = None
    target: int | None = None


_item_site_decoder = msgspec.json.Decoder(_ItemSiteRow)


def _item_site_fast(value: bytes, parts: dict[str, str]) -> Row | None:
    """The row of a well-formed item-site record at a fraction of the general path's cost
    (a catalogue is millions of them); None sends any other record down the general path,
    which names its problems."""
    try:
        row = _item_site_decoder.decode(value)
    except msgspec.DecodeError:
        return None
    point, target = row.reorder_point, row.target
    if (
        row.sku != parts["sku"]
        or row.site != parts["site"]
        or (point is not None and point < 0)
        or (target is not None and target < 0)
    ):
        return None
    return {"sku": row.sku, "site": row.site, "reorder_point": point, "target": target}


class _UnitRow(msgspec.Struct, forbid_unknown_fields=True):
    """A unit-conversion row as publish writes it."""

    sku: str
    uom: str
    factor: int


class _AliasRow(msgspec.Struct, forbid_unknown_fields=True):
    """An alias row as publish writes it."""

    scope: str
    code: str
    sku: str


class _ItemRow(msgspec.Struct, forbid_unknown_fields=True):
    """An item row as publish writes it."""

    sku: str
    base_uom: str
    unit_value: float
    name: str | None = None


_item_decoder = msgspec.json.Decoder(_ItemRow)
_unit_decoder = msgspec.json.Decoder(_UnitRow)
_alias_decoder = msgspec.json.Decoder(_AliasRow)


def _item_fast(value: bytes, parts: dict[str, str]) -> Row | None:
    """A well-formed item record (one per SKU) without the general path; None sends any
    other record down it."""
    try:
        row = _item_decoder.decode(value)
    except msgspec.DecodeError:
        return None
    unit_value = row.unit_value
    if (
        row.sku != parts["sku"]
        or len(row.sku) > MAX_ID_LENGTH
        or not row.base_uom
        or not math.isfinite(unit_value)
        or unit_value < 0
    ):
        return None
    return {
        "sku": row.sku,
        "base_uom": row.base_uom,
        "unit_value": unit_value,
        "name": row.name or "",
    }


def _unit_fast(value: bytes, parts: dict[str, str]) -> Row | None:
    """A well-formed unit-conversion record (one per SKU and unit) without the general path;
    None sends any other record down it."""
    try:
        row = _unit_decoder.decode(value)
    except msgspec.DecodeError:
        return None
    if (
        row.sku != parts["sku"]
        or row.uom != parts["uom"]
        or row.factor <= 0
        or len(row.sku) > MAX_ID_LENGTH
        or len(row.uom) > MAX_ID_LENGTH
    ):
        return None
    return {"sku": row.sku, "uom": row.uom, "factor": row.factor}


def _alias_fast(value: bytes, parts: dict[str, str]) -> Row | None:
    """A well-formed alias record (one per legacy code and partner number) without the
    general path; None sends any other record down it."""
    try:
        row = _alias_decoder.decode(value)
    except msgspec.DecodeError:
        return None
    if (
        row.scope != parts["scope"]
        or row.code != parts["code"]
        or not row.sku
        or len(row.scope) > MAX_ID_LENGTH
        or len(row.code) > MAX_ID_LENGTH
    ):
        return None
    return {"scope": row.scope, "code": row.code, "sku": row.sku}


# The record kinds a catalogue has by the million or hundred thousand, decoded by type first.
_FAST_PATHS: dict[str, Callable[[bytes, dict[str, str]], Row | None]] = {
    "item_sites": _item_site_fast,
    "items": _item_fast,
    "uom_conversions": _unit_fast,
    "aliases": _alias_fast,
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("must be a string or a number")
    return value if isinstance(value, str) else repr(value)


def _parse_row(entity: str, raw: dict[str, Any], errors: list[str]) -> Row:
    file = entity + ".csv"
    required, optional = BUNDLE_COLUMNS[file]
    known = set(required) | set(optional) | ({"codes"} if entity == "partners" else set())
    for column in sorted(set(raw) - known):
        errors.append(f"unknown column {column!r} (columns of {file}: {', '.join(known)})")
    row: Row = {}
    for column in (*required, *optional):
        try:
            text = _cell(raw.get(column)) or optional.get(column, "")
        except ValueError as exc:
            errors.append(f"{column}: {exc}")
            continue
        if not text and column in required:
            errors.append(f"{column}: is empty (required)")
            continue
        try:
            row[column] = _parse_cell(entity, column, text)
        except ValueError as exc:
            errors.append(f"{column}: {exc}")
    if entity == "partners":
        row["codes"] = _parse_codes(raw.get("codes", []), errors)
    return row


def _parse_cell(entity: str, column: str, text: str) -> Any:
    if column in ("unit_value", "expected_interval_s", "transit_hours"):
        value = float(text)
        if not math.isfinite(value) or value < 0 or (column != "unit_value" and value == 0):
            raise ValueError(
                f"{text!r} must be a {'' if column == 'unit_value' else 'positive '}number"
            )
        return value
    if column == "factor":
        factor = int(text)
        if factor <= 0:
            raise ValueError(f"{text!r} must be a whole number above 0")
        return factor
    if column in ("reorder_point", "target"):
        if not text:
            return None
        figure = int(text)
        if figure < 0:
            raise ValueError(f"{text!r} must be a whole number >= 0")
        return figure
    if column == "feed_mode" and text not in FEED_MODES:
        raise ValueError(f"{text!r} is not one of {', '.join(FEED_MODES)}")
    if column == "timezone" and check_timezone(column, text):
        raise ValueError(f"unknown time zone {text!r}")
    if column in _ID_COLUMNS[entity] and len(text) > MAX_ID_LENGTH:
        raise ValueError(f"longer than {MAX_ID_LENGTH} characters")
    return text


def _parse_codes(raw: Any, errors: list[str]) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        errors.append("codes: must be a list of {kind, code, value}")
        return []
    codes: list[dict[str, str]] = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(c), str) and item[c] for c in _CODE_COLUMNS
        ):
            errors.append(f"codes[{n}]: must be {{kind, code, value}}, each a non-empty string")
        elif item["kind"] not in CODE_KINDS:
            errors.append(
                f"codes[{n}]: kind {item['kind']!r} is not one of {', '.join(CODE_KINDS)}"
            )
        elif item["kind"] == "txn_type" and item["value"] not in EVENT_TYPES:
            errors.append(f"codes[{n}]: {item['value']!r} is not an event type")
        else:
            codes.append({c: item[c] for c in _CODE_COLUMNS})
    return codes


# --------------------------------------------------------------------------- rows of an index


def index_rows(index: MasterIndex) -> dict[str, Row]:
    """Every row of the catalogue by its record key, parents first (`ENTITIES` order)."""
    cols = index.columns
    rows: dict[str, Row] = {}

    def put(entity: str, row: Row) -> None:
        rows[f"{entity}:{row_id(entity, row)}"] = row

    for site in cols.sites:
        put("sites", _site_row(site))
    for partner in cols.partners:
        put("partners", _partner_row(partner))
    uoms, n_sites = cols.uoms, len(cols.sites)
    for i, sku in enumerate(cols.sku_ids):
        row = {"sku": sku, "base_uom": uoms[cols.base_uom[i]], "unit_value": cols.unit_value[i]}
        put("items", {**row, "name": cols.sku_names[i]})
    for i, sku in enumerate(cols.sku_ids):
        for j in range(cols.factor_start[i] + 1, cols.factor_start[i + 1]):
            put(
                "uom_conversions",
                {"sku": sku, "uom": uoms[cols.factor_uom[j]], "factor": cols.factor_value[j]},
            )
    points, targets = cols.reorder_point, cols.target
    for i, sku in enumerate(cols.sku_ids):
        for s, site in enumerate(cols.sites):
            point, target = points[i * n_sites + s], targets[i * n_sites + s]
            if point != NO_POLICY or target != NO_POLICY:
                put(
                    "item_sites",
                    {
                        "sku": sku,
                        "site": site.id,
                        "reorder_point": None if point == NO_POLICY else point,
                        "target": None if target == NO_POLICY else target,
                    },
                )
    for alias in cols.iter_aliases():
        put("aliases", {"scope": alias.scope, "code": alias.code, "sku": alias.sku})
    for lane in cols.lanes:
        put(
            "lanes",
            {
                "from_site": lane.from_site,
                "to_site": lane.to_site,
                "transit_hours": lane.transit_hours,
            },
        )
    return rows


def _site_row(site: Site) -> Row:
    return {
        "site": site.id,
        "feed_mode": site.feed_mode,
        "name": site.name,
        "kind": site.kind,
        "region": site.region,
        "expected_interval_s": site.expected_interval_s,
        "timezone": site.timezone,
        "partner": site.partner or "",
    }


def _partner_row(p: PartnerProfile) -> Row:
    codes = [
        *({"kind": "txn_type", "code": c, "value": str(t)} for c, t in p.txn_types.items()),
        *({"kind": "uom", "code": c, "value": v} for c, v in p.uom_codes.items()),
        *({"kind": "warehouse", "code": c, "value": v} for c, v in p.warehouses.items()),
    ]
    return {
        "partner": p.id,
        "site": p.site,
        "name": p.name,
        "timezone": p.timezone,
        "timestamp_format": p.timestamp_format,
        "to_site_column": p.to_site_column,
        "transfer_id_column": p.transfer_id_column,
        "codes": codes,
    }


def diff_rows(old: Mapping[str, Row | None], new: Mapping[str, Row]) -> list[Change]:
    """The changes that turn `old` into `new`: new and changed rows in `ENTITIES` order, then
    deleted ones in the reverse order (an alias goes before its item)."""
    ups: dict[str, list[Change]] = {e: [] for e in ENTITIES}
    for key, row in new.items():
        if old.get(key) != row:
            entity, ident = split_key(key)
            ups[entity].append(Change(entity, ident, row))
    downs: dict[str, list[Change]] = {e: [] for e in ENTITIES}
    for key in old.keys() - new.keys():
        entity, ident = split_key(key)
        downs[entity].append(Change(entity, ident, None))
    return [
        *(c for e in ENTITIES for c in ups[e]),
        *(c for e in reversed(ENTITIES) for c in sorted(downs[e], key=lambda c: c.id)),
    ]


def diff_indexes(old: MasterIndex, new: MasterIndex) -> list[Change]:
    return diff_rows(index_rows(old), index_rows(new))


def normalized(rows: Mapping[str, Row]) -> dict[str, Row]:
    """Rows as `decode_change` gives them (to compare a topic's rows with an index's)."""
    out: dict[str, Row] = {}
    for key, row in rows.items():
        change = decode_change(key, msgspec.json.encode(row))
        assert change.row is not None
        out[key] = change.row
    return out


# --------------------------------------------------------------------------- applying


class _Waiting:
    """Changes whose parent (a site or an item) the index does not hold yet, by key."""

    def __init__(self) -> None:
        self.changes: dict[str, Change] = {}


_waiting: weakref.WeakKeyDictionary[MasterIndex, _Waiting] = weakref.WeakKeyDictionary()


class _MissingParent(Exception):
    """The change names a site or item the index does not hold (yet)."""


def apply_record(index: MasterIndex, key: bytes, value: bytes | None) -> list[str]:
    """Decode a `masterdata.v1` record and apply it (see `apply_change`)."""
    return apply_change(index, decode_change(key, value))


def apply_change(index: MasterIndex, change: Change) -> list[str]:
    """Apply `change` to `index` in place; the keys applied (this change, and any waiting
    change it was the missing parent of). A change naming a site or item the index does not
    hold waits for it (returns []); a later record of the same key replaces it."""
    waiting = _waiting.get(index)
    if waiting is None:
        waiting = _waiting[index] = _Waiting()
    waiting.changes.pop(change.key, None)
    try:
        _apply(index, change)
    except _MissingParent:
        waiting.changes[change.key] = change
        return []
    applied = [change.key]
    progress = True
    while progress and waiting.changes:
        progress = False
        for key, pending in list(waiting.changes.items()):
            try:
                _apply(index, pending)
            except _MissingParent:
                continue
            del waiting.changes[key]
            applied.append(key)
            progress = True
    return applied


def waiting_changes(index: MasterIndex) -> list[Change]:
    """The changes held back for a parent the index does not hold yet."""
    waiting = _waiting.get(index)
    return list(waiting.changes.values()) if waiting is not None else []


def apply_changes(index: MasterIndex, changes: Iterable[Change]) -> list[str]:
    applied: list[str] = []
    for change in changes:
        applied.extend(apply_change(index, change))
    return applied


def _apply(index: MasterIndex, change: Change) -> None:
    cols, row = index.columns, change.row
    entity = change.entity
    key = row if row is not None else id_parts(entity, change.id)
    if entity == "sites":
        _apply_site(cols, key["site"], row)
    elif entity == "partners":
        _apply_partner(cols, key["partner"], row)
    elif entity == "items":
        _apply_item(cols, key["sku"], row)
    elif entity == "uom_conversions":
        _apply_unit(cols, key["sku"], key["uom"], row)
    elif entity == "item_sites":
        _apply_policy(cols, key["sku"], key["site"], row)
    elif entity == "aliases":
        _apply_alias(cols, key["scope"], key["code"], row)
    else:
        _apply_lane(cols, key["from_site"], key["to_site"], row)
    _refresh(index, entity)


def _refresh(index: MasterIndex, entity: str) -> None:
    if entity in ("sites", "partners", "lanes"):
        # the index's lookups of the few sites, partners and lanes are rebuilt from the columns
        MasterIndex.__init__(index, index.columns)
    else:
        # SKU structs are built again on demand (the YAML's own dict of them is now stale)
        index.skus = SkuViews(index.columns)
    index._md = None


def _sku(cols: CatalogColumns, sku: str) -> int:
    i = cols.sku_pos.get(sku)
    if i is None:
        raise _MissingParent(sku)
    return i


def _apply_site(cols: CatalogColumns, site_id: str, row: Row | None) -> None:
    s = cols.site_pos.get(site_id)
    if row is None:
        if s is not None:
            _relayout(cols, [x for x in range(len(cols.sites)) if x != s])
            del cols.sites[s]
            cols.site_pos = {site.id: n for n, site in enumerate(cols.sites)}
        return
    site = Site(
        id=site_id,
        name=row["name"],
        kind=row["kind"],
        region=row["region"],
        feed_mode=row["feed_mode"],
        expected_interval_s=row["expected_interval_s"],
        timezone=row["timezone"],
        partner=row["partner"] or None,
    )
    if s is not None:
        cols.sites[s] = site
        return
    _relayout(cols, [*range(len(cols.sites)), -1])
    cols.site_pos[site_id] = len(cols.sites)
    cols.sites.append(site)


def _relayout(cols: CatalogColumns, keep: list[int]) -> None:
    """Policies laid out again for new site columns: `keep[s]` the old column (-1 new)."""
    n_old = len(cols.sites)
    for name in ("reorder_point", "target"):
        old: array[int] = getattr(cols, name)
        new = array("q", [NO_POLICY]) * (len(cols.sku_ids) * len(keep))
        for s, was in enumerate(keep):
            if was >= 0:
                new[s :: len(keep)] = old[was::n_old]
        setattr(cols, name, new)


def _apply_partner(cols: CatalogColumns, partner_id: str, row: Row | None) -> None:
    at = next((n for n, p in enumerate(cols.partners) if p.id == partner_id), None)
    if row is None:
        if at is not None:
            del cols.partners[at]
        return
    codes: dict[str, dict[str, str]] = {kind: {} for kind in CODE_KINDS}
    for code in row["codes"]:
        codes[code["kind"]][code["code"]] = code["value"]
    partner = PartnerProfile(
        id=partner_id,
        name=row["name"],
        site=row["site"],
        txn_types={c: EVENT_TYPES[v] for c, v in codes["txn_type"].items()},
        timezone=row["timezone"],
        timestamp_format=row["timestamp_format"],
        uom_codes=codes["uom"],
        warehouses=codes["warehouse"],
        to_site_column=row["to_site_column"],
        transfer_id_column=row["transfer_id_column"],
    )
    if at is None:
        cols.partners.append(partner)
    else:
        cols.partners[at] = partner


def _intern_uom(cols: CatalogColumns, uom: str) -> int:
    u = cols.uom_pos.get(uom)
    if u is None:
        u = cols.uom_pos[uom] = len(cols.uoms)
        cols.uoms.append(uom)
    return u


def _apply_item(cols: CatalogColumns, sku: str, row: Row | None) -> None:
    i = cols.sku_pos.get(sku)
    if row is None:
        if i is not None:
            _delete_item(cols, i)
        return
    u = _intern_uom(cols, row["base_uom"])
    if i is not None:
        cols.sku_names[i] = row["name"]
        cols.unit_value[i] = row["unit_value"]
        cols.base_uom[i] = u
        cols.factor_uom[cols.factor_start[i]] = u  # the base unit is the SKU's first, factor 1
        return
    cols.sku_pos[sku] = len(cols.sku_ids)
    cols.sku_ids.append(sku)
    cols.sku_names.append(row["name"])
    cols.base_uom.append(u)
    cols.unit_value.append(row["unit_value"])
    cols.factor_uom.append(u)
    cols.factor_value.append(1)
    cols.factor_start.append(len(cols.factor_uom))
    more = array("q", [NO_POLICY]) * len(cols.sites)
    cols.reorder_point.extend(more)
    cols.target.extend(more)


def _delete_item(cols: CatalogColumns, i: int) -> None:
    sku = cols.sku_ids[i]
    lo, hi = cols.factor_start[i], cols.factor_start[i + 1]
    del cols.factor_uom[lo:hi]
    del cols.factor_value[lo:hi]
    del cols.factor_start[i]
    _shift(cols.factor_start, i, lo - hi)
    n = len(cols.sites)
    del cols.reorder_point[i * n : (i + 1) * n]
    del cols.target[i * n : (i + 1) * n]
    del cols.sku_ids[i], cols.sku_names[i], cols.base_uom[i], cols.unit_value[i]
    del cols.sku_pos[sku]
    for later in range(i, len(cols.sku_ids)):
        cols.sku_pos[cols.sku_ids[later]] = later
    for codes in cols.aliases.values():
        for code in [c for c, target in codes.items() if target == sku]:
            del codes[code]


def _shift(starts: array[int], first: int, by: int) -> None:
    starts[first:] = array(starts.typecode, (x + by for x in starts[first:]))


def _apply_unit(cols: CatalogColumns, sku: str, uom: str, row: Row | None) -> None:
    i = cols.sku_pos.get(sku)
    if i is None:
        if row is None:
            return
        raise _MissingParent(sku)
    lo, hi = cols.factor_start[i], cols.factor_start[i + 1]
    u = cols.uom_pos.get(uom)
    at = next((j for j in range(lo + 1, hi) if cols.factor_uom[j] == u), None)
    if row is None:
        if at is not None:
            del cols.factor_uom[at]
            del cols.factor_value[at]
            _shift(cols.factor_start, i + 1, -1)
        return
    if at is not None:
        cols.factor_value[at] = row["factor"]
        return
    cols.factor_uom.insert(hi, _intern_uom(cols, uom))
    cols.factor_value.insert(hi, row["factor"])
    _shift(cols.factor_start, i + 1, 1)


def _apply_policy(cols: CatalogColumns, sku: str, site: str, row: Row | None) -> None:
    i, s = cols.sku_pos.get(sku), cols.site_pos.get(site)
    if i is None or s is None:
        if row is None:
            return
        raise _MissingParent(sku if i is None else site)
    at = i * len(cols.sites) + s
    point = None if row is None else row["reorder_point"]
    target = None if row is None else row["target"]
    cols.reorder_point[at] = NO_POLICY if point is None else point
    cols.target[at] = NO_POLICY if target is None else target


def _apply_alias(cols: CatalogColumns, scope: str, code: str, row: Row | None) -> None:
    if row is None:
        codes = cols.aliases.get(scope)
        if codes is not None:
            codes.pop(code, None)
        return
    i = _sku(cols, row["sku"])
    cols.aliases.setdefault(scope, {})[code] = cols.sku_ids[i]


def _apply_lane(cols: CatalogColumns, from_site: str, to_site: str, row: Row | None) -> None:
    cols.lanes = [
        lane for lane in cols.lanes if (lane.from_site, lane.to_site) != (from_site, to_site)
    ]
    if row is not None:
        cols.lanes.append(
            Lane(from_site=from_site, to_site=to_site, transit_hours=row["transit_hours"])
        )
