"""The simulator's view of the network: master data turned into indexed arrays.

Sites and SKUs are addressed by position (`s`, `k`) so that the physical model can keep its
ground truth and policies in numpy arrays. The master data itself is kept (`index`, the
catalogue in columns as the flows load it): it is what the twin core is built from, so
simulator and twin always agree on the network. A file (YAML or CSV bundle) and a generated
network are loaded straight into columns, never as a struct per SKU-site.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simulator.spec import NetworkSpec
from twin.catalog_columns import NO_POLICY, CatalogColumns
from twin.events import EventType
from twin.masterdata import MasterData, MasterIndex, PartnerProfile, load_master_index
from twin.masterdata_gen import generate_columns

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SiteInfo:
    """One site as the simulator uses it: its feed and how it names items."""

    index: int
    id: str
    feed_mode: str
    expected_interval_s: float
    timezone: str
    partner: str | None = None


@dataclass(frozen=True)
class PartnerCodes:
    """How a 3PL partner writes a record: type codes, warehouse codes, unit codes, time."""

    id: str
    txn_code: dict[str, str]  # event type -> partner code
    warehouse: dict[str, str]  # site id -> partner's warehouse code
    uom_code: dict[str, str]  # uom name -> partner's unit code
    timestamp_format: str
    timezone: str
    to_site_column: str
    transfer_id_column: str


@dataclass
class Network:
    """Sites, SKUs, policies and lanes of one network, with arrays indexed `[site, sku]`."""

    index: MasterIndex
    sites: list[SiteInfo]
    sku_ids: list[str]
    base_uom: list[str]
    case_factor: np.ndarray  # (K,) units per case, 0 when the SKU has no case
    unit_value: np.ndarray  # (K,)
    reorder_point: np.ndarray  # (S, K) int64
    target: np.ndarray  # (S, K) int64
    # lanes_to[s] = [(from site index, transit hours)], in master-data order
    lanes_to: list[list[tuple[int, float]]]
    # item_code[s][k] = the code the site's feed uses for SKU k (an alias, or the SKU id)
    item_code: list[list[str]]
    partners: dict[int, PartnerCodes] = field(default_factory=dict)

    @property
    def master(self) -> MasterData:
        """The network as `MasterData` (a struct per SKU, built once when asked: for small
        networks, e.g. writing a demo's YAML)."""
        return self.index.md

    @property
    def n_sites(self) -> int:
        return len(self.sites)

    @property
    def n_skus(self) -> int:
        return len(self.sku_ids)

    def site_index(self, site_id: str) -> int:
        for site in self.sites:
            if site.id == site_id:
                return site.index
        raise KeyError(f"no site {site_id!r} in the network")


def load_network(spec: NetworkSpec, *, base_dir: Path | None = None) -> Network:
    """The network a scenario names: a master-data file, or one generated from a spec."""
    if spec.path:
        path = Path(spec.path)
        if not path.is_absolute() and not path.exists():
            # Relative to the scenario's folder, else to the repository (examples/...).
            for root in (base_dir, REPO_ROOT):
                if root is not None and (root / path).exists():
                    path = root / path
                    break
        return network_from_index(load_master_index(path))
    gen = spec.generate
    if gen is None:
        return network_from_index(MasterIndex(generate_columns()))
    columns = generate_columns(sites=gen.sites, skus=gen.skus, seed=gen.seed)
    return network_from_index(MasterIndex(columns))


def network_from_master(md: MasterData) -> Network:
    """Index master data for the simulator (arrays by position, codes per site)."""
    return network_from_index(MasterIndex(md))


def network_from_index(index: MasterIndex) -> Network:
    """Index the catalogue's columns for the simulator (arrays by position, codes per site)."""
    cols = index.columns
    sites = [
        SiteInfo(
            index=i,
            id=s.id,
            feed_mode=s.feed_mode,
            expected_interval_s=s.expected_interval_s,
            timezone=s.timezone,
            partner=s.partner,
        )
        for i, s in enumerate(cols.sites)
    ]
    site_pos = {s.id: s.index for s in sites}
    reorder_point = _per_site_sku(cols.reorder_point, cols.n_skus, len(sites))
    target = _per_site_sku(cols.target, cols.n_skus, len(sites))
    # A site without a policy for a SKU still stocks a little of it, so demand can be served.
    target = np.maximum(target, reorder_point + 1)
    lanes_to: list[list[tuple[int, float]]] = [[] for _ in sites]
    for lane in cols.lanes:
        lanes_to[site_pos[lane.to_site]].append((site_pos[lane.from_site], lane.transit_hours))
    partners = {site_pos[p.site]: _partner_codes(p, [s.id for s in sites]) for p in cols.partners}
    item_code = [_item_codes(cols, site, partners.get(site.index)) for site in sites]
    uoms = cols.uoms
    return Network(
        index=index,
        sites=sites,
        sku_ids=list(cols.sku_ids),
        base_uom=[uoms[u] for u in cols.base_uom],
        case_factor=np.array(
            [cols.factor(k, "case") or 0 for k in range(cols.n_skus)], dtype=np.int64
        ),
        unit_value=np.array(cols.unit_value, dtype=np.float64),
        reorder_point=reorder_point,
        target=target,
        lanes_to=lanes_to,
        item_code=item_code,
        partners=partners,
    )


def _partner_codes(profile: PartnerProfile, site_ids: list[str]) -> PartnerCodes:
    txn_code: dict[str, str] = {}
    for code, etype in profile.txn_types.items():
        txn_code.setdefault(str(EventType(etype)), code)
    warehouse = {site: site for site in site_ids}
    for code, site in profile.warehouses.items():
        warehouse[site] = code
    uom_code: dict[str, str] = {}
    for code, uom in profile.uom_codes.items():
        uom_code.setdefault(uom, code)
    return PartnerCodes(
        id=profile.id,
        txn_code=txn_code,
        warehouse=warehouse,
        uom_code=uom_code,
        timestamp_format=profile.timestamp_format,
        timezone=profile.timezone,
        to_site_column=profile.to_site_column,
        transfer_id_column=profile.transfer_id_column,
    )


def _per_site_sku(figures: array[int], n_skus: int, n_sites: int) -> np.ndarray:
    """A policy column (row-major by SKU, `NO_POLICY` where none) as an `(S, K)` array, 0
    where the site has no figure."""
    by_sku = np.frombuffer(figures, dtype=np.dtype(figures.typecode)).reshape(n_skus, n_sites)
    return np.where(by_sku == NO_POLICY, 0, by_sku).T.copy()


def _item_codes(cols: CatalogColumns, site: SiteInfo, partner: PartnerCodes | None) -> list[str]:
    # The feed of a site uses the local code when one exists for its scope (the partner for
    # a 3PL site, else the site itself): that is what the normalizer must map back.
    scope = partner.id if partner is not None else site.id
    local = {sku: code for code, sku in cols.aliases.get(scope, {}).items()}
    return [local.get(sku, sku) for sku in cols.sku_ids]
