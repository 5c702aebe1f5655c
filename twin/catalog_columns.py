"""The catalogue in columns: interned ids and flat arrays instead of an object per SKU-site.

At 100,000 SKUs x 20 sites a `Sku` struct per SKU, each holding two dicts of 20 entries, is
gigabytes; here the per-SKU figures are arrays indexed by a SKU's position, the per-SKU-site
policy is one dense array of `n_skus * n_sites` (row-major by SKU), and the few sites,
partners and lanes stay as their structs. Every id string is held once: the alias tables
point at the very string objects of `sku_ids`.

A `Sku` is built on demand (`sku_at`), for the callers that want one; the lookups the hot
path makes (`factor`, `policy`) read the arrays directly.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping

from twin.masterdata_types import ItemAlias, Lane, MasterData, PartnerProfile, Site, Sku

NO_POLICY = -1  # in `reorder_point` / `target`: the site has no figure for this SKU


class CatalogColumns:
    """Sites, partners and lanes as structs; SKUs, their units, policies and aliases as columns.

    Invariants (the loaders keep them; the structures are not checked again here):
    - `sku_ids[i]` is the id of SKU `i`, `sku_pos[sku_ids[i]] == i`;
    - SKU `i`'s units are `factor_uom[factor_start[i]:factor_start[i + 1]]` (indexes into
      `uoms`) with the matching `factor_value`s, its base unit first (factor 1);
    - `reorder_point[i * n_sites + s]` is SKU `i`'s figure at `sites[s]`, `NO_POLICY` if none;
    - `aliases[scope][code]` is a SKU id (the string object of `sku_ids`).
    """

    __slots__ = (
        "aliases",
        "base_uom",
        "factor_start",
        "factor_uom",
        "factor_value",
        "lanes",
        "partners",
        "reorder_point",
        "site_pos",
        "sites",
        "sku_ids",
        "sku_names",
        "sku_pos",
        "target",
        "unit_value",
        "uom_pos",
        "uoms",
    )

    def __init__(
        self,
        *,
        sites: list[Site],
        partners: list[PartnerProfile],
        lanes: list[Lane],
        sku_ids: list[str],
        sku_names: list[str],
        uoms: list[str],
        base_uom: array[int],
        unit_value: array[float],
        factor_start: array[int],
        factor_uom: array[int],
        factor_value: array[int],
        reorder_point: array[int],
        target: array[int],
        aliases: dict[str, dict[str, str]],
    ) -> None:
        self.sites = sites
        self.partners = partners
        self.lanes = lanes
        self.site_pos = {site.id: s for s, site in enumerate(sites)}
        self.sku_ids = sku_ids
        self.sku_pos = {sku: i for i, sku in enumerate(sku_ids)}
        self.sku_names = sku_names
        self.uoms = uoms
        self.uom_pos = {uom: u for u, uom in enumerate(uoms)}
        self.base_uom = base_uom
        self.unit_value = unit_value
        self.factor_start = factor_start
        self.factor_uom = factor_uom
        self.factor_value = factor_value
        self.reorder_point = reorder_point
        self.target = target
        self.aliases = aliases

    # ------------------------------------------------------------------ sizes and lookups
    @property
    def n_sites(self) -> int:
        return len(self.sites)

    @property
    def n_skus(self) -> int:
        return len(self.sku_ids)

    @property
    def n_aliases(self) -> int:
        return sum(len(codes) for codes in self.aliases.values())

    def factor(self, i: int, uom: str) -> int | None:
        """Base units in one `uom` of SKU `i` (None when the SKU has no such unit)."""
        u = self.uom_pos.get(uom)
        if u is None:
            return None
        factor_uom = self.factor_uom
        for j in range(self.factor_start[i], self.factor_start[i + 1]):
            if factor_uom[j] == u:
                return self.factor_value[j]
        return None

    def units(self, i: int) -> dict[str, int]:
        """SKU `i`'s units and their factors, base unit first."""
        lo, hi = self.factor_start[i], self.factor_start[i + 1]
        uoms, values = self.uoms, self.factor_value[lo:hi]
        return {uoms[u]: f for u, f in zip(self.factor_uom[lo:hi], values, strict=True)}

    def policy(self, i: int, site: str, figures: array[int]) -> int:
        """SKU `i`'s figure at `site` in `figures` (reorder_point or target), 0 when none."""
        s = self.site_pos.get(site)
        if s is None:
            return 0
        value = figures[i * len(self.sites) + s]
        return 0 if value == NO_POLICY else value

    def sku_at(self, i: int) -> Sku:
        """SKU `i` as the `Sku` struct YAML master data holds."""
        n = len(self.sites)
        row = slice(i * n, (i + 1) * n)
        return Sku(
            id=self.sku_ids[i],
            name=self.sku_names[i],
            base_uom=self.uoms[self.base_uom[i]],
            uom_factors=self.units(i),
            unit_value=self.unit_value[i],
            reorder_point=self._per_site(self.reorder_point[row]),
            target=self._per_site(self.target[row]),
        )

    def _per_site(self, figures: array[int]) -> dict[str, int]:
        return {
            site.id: value
            for site, value in zip(self.sites, figures, strict=True)
            if value != NO_POLICY
        }

    def iter_aliases(self) -> Iterator[ItemAlias]:
        for scope, codes in self.aliases.items():
            for code, sku in codes.items():
                yield ItemAlias(scope=scope, code=code, sku=sku)

    def to_master_data(self) -> MasterData:
        """The same catalogue as a `MasterData` (a struct per SKU: for small networks)."""
        return MasterData(
            sites=list(self.sites),
            skus=[self.sku_at(i) for i in range(len(self.sku_ids))],
            aliases=list(self.iter_aliases()),
            partners=list(self.partners),
            lanes=list(self.lanes),
        )

    # ------------------------------------------------------------------ building
    @classmethod
    def from_master(cls, md: MasterData) -> CatalogColumns:
        """Columns of checked master data (`MasterData` that loaded without errors)."""
        builder = ColumnsBuilder(md.sites)
        for sku in md.skus:
            builder.add_sku(sku.id, sku.name, sku.base_uom, sku.unit_value)
            for uom, factor in sku.uom_factors.items():
                if uom != sku.base_uom:
                    builder.add_unit(uom, factor)
        builder.finish_skus()
        for i, sku in enumerate(md.skus):
            for site, point in sku.reorder_point.items():
                builder.set_policy(i, site, point, None)
            for site, target in sku.target.items():
                builder.set_policy(i, site, None, target)
        for alias in md.aliases:
            builder.add_alias(alias.scope, alias.code, alias.sku)
        return builder.build(md.partners, md.lanes)


class ColumnsBuilder:
    """Appends SKUs (each with its units), then policies and aliases, into columns."""

    def __init__(self, sites: list[Site]) -> None:
        self.sites = sites
        self.site_pos = {site.id: s for s, site in enumerate(sites)}
        self.sku_ids: list[str] = []
        self.sku_names: list[str] = []
        self.uoms: list[str] = []
        self.uom_pos: dict[str, int] = {}
        self.base_uom: array[int] = array("l")
        self.unit_value: array[float] = array("d")
        self.factor_start: array[int] = array("q", [0])
        self.factor_uom: array[int] = array("l")
        self.factor_value: array[int] = array("q")
        self.reorder_point: array[int] = array("q")
        self.target: array[int] = array("q")
        self.aliases: dict[str, dict[str, str]] = {}
        self.sku_pos: dict[str, int] = {}

    def intern_uom(self, uom: str) -> int:
        u = self.uom_pos.get(uom)
        if u is None:
            u = self.uom_pos[uom] = len(self.uoms)
            self.uoms.append(uom)
        return u

    def add_sku(self, sku: str, name: str, base_uom: str, unit_value: float) -> None:
        """A new SKU, its base unit (factor 1) recorded as its first unit."""
        if len(self.sku_ids) > 0:
            self.factor_start.append(len(self.factor_uom))
        self.sku_pos[sku] = len(self.sku_ids)
        self.sku_ids.append(sku)
        self.sku_names.append(name)
        u = self.intern_uom(base_uom)
        self.base_uom.append(u)
        self.unit_value.append(unit_value)
        self.factor_uom.append(u)
        self.factor_value.append(1)

    def add_unit(self, uom: str, factor: int) -> None:
        """Another unit of the SKU added last."""
        self.factor_uom.append(self.intern_uom(uom))
        self.factor_value.append(factor)

    def add_skus(
        self,
        sku_ids: list[str],
        names: list[str],
        base_uoms: list[str],
        unit_values: array[float],
        extra_units: dict[str, list[tuple[str, int]]],
    ) -> None:
        """All SKUs at once (columns, in order) with their non-base units; then finished."""
        for uom in dict.fromkeys(base_uoms):
            self.intern_uom(uom)
        for uom in dict.fromkeys(uom for more in extra_units.values() for uom, _ in more):
            self.intern_uom(uom)
        uom_pos, first = self.uom_pos, len(self.sku_ids)
        base_at = array("l", map(uom_pos.__getitem__, base_uoms))
        self.sku_pos.update(zip(sku_ids, range(first, first + len(sku_ids)), strict=True))
        self.sku_ids.extend(sku_ids)
        self.sku_names.extend(names)
        self.base_uom.extend(base_at)
        self.unit_value.extend(unit_values)
        factor_start, factor_uom, factor_value = (
            self.factor_start,
            self.factor_uom,
            self.factor_value,
        )
        if first and sku_ids:
            factor_start.append(len(factor_uom))
        for sku, base in zip(sku_ids, base_at, strict=True):
            factor_uom.append(base)
            factor_value.append(1)
            for uom, factor in extra_units.get(sku, ()):
                factor_uom.append(uom_pos[uom])
                factor_value.append(factor)
            factor_start.append(len(factor_uom))
        if sku_ids:
            factor_start.pop()  # finish_skus closes the last SKU
        self.finish_skus()

    def finish_skus(self) -> None:
        if self.sku_ids:
            self.factor_start.append(len(self.factor_uom))
        size = len(self.sku_ids) * len(self.sites)
        self.reorder_point = array("q", [NO_POLICY]) * size
        self.target = array("q", [NO_POLICY]) * size

    def set_policy(self, i: int, site: str, point: int | None, target: int | None) -> None:
        at = i * len(self.sites) + self.site_pos[site]
        if point is not None:
            self.reorder_point[at] = point
        if target is not None:
            self.target[at] = target

    def add_alias(self, scope: str, code: str, sku: str) -> None:
        self.aliases.setdefault(scope, {})[code] = self.sku_ids[self.sku_pos[sku]]

    def build(self, partners: list[PartnerProfile], lanes: list[Lane]) -> CatalogColumns:
        return CatalogColumns(
            sites=list(self.sites),
            partners=list(partners),
            lanes=list(lanes),
            sku_ids=self.sku_ids,
            sku_names=self.sku_names,
            uoms=self.uoms,
            base_uom=self.base_uom,
            unit_value=self.unit_value,
            factor_start=self.factor_start,
            factor_uom=self.factor_uom,
            factor_value=self.factor_value,
            reorder_point=self.reorder_point,
            target=self.target,
            aliases=self.aliases,
        )


class SkuViews(Mapping[str, Sku]):
    """`Mapping[sku id, Sku]` over columns: each `Sku` built when asked for.

    The most recently built ones are kept (a bounded cache), so a stream of events on the
    same few thousand SKUs does not rebuild them, and the whole catalogue is never held as
    structs.
    """

    def __init__(self, columns: CatalogColumns, cache_size: int = 8192) -> None:
        self._columns = columns
        self._cache: dict[str, Sku] = {}
        self._cache_size = cache_size

    def __getitem__(self, sku_id: str) -> Sku:
        sku = self._cache.get(sku_id)
        if sku is not None:
            return sku
        sku = self._columns.sku_at(self._columns.sku_pos[sku_id])
        if len(self._cache) >= self._cache_size:
            del self._cache[next(iter(self._cache))]  # the oldest entry
        self._cache[sku_id] = sku
        return sku

    def get(self, sku_id: str, default: Sku | None = None) -> Sku | None:  # type: ignore[override]
        try:
            return self[sku_id]
        except KeyError:
            return default

    def __contains__(self, sku_id: object) -> bool:
        return sku_id in self._columns.sku_pos

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns.sku_ids)

    def __len__(self) -> int:
        return len(self._columns.sku_ids)
