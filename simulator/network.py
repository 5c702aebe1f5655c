"""The simulator's view of the network: master data turned into indexed arrays.

Sites and SKUs are addressed by position (`s`, `k`) so that the physical model can keep its
ground truth and policies in numpy arrays. The master data itself is kept (`master`): it is
what the twin core is built from, so simulator and twin always agree on the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simulator.spec import NetworkSpec
from twin.events import EventType
from twin.masterdata import MasterData, PartnerProfile, load_master_data
from twin.masterdata_gen import generate_master_data

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

    master: MasterData
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
        return network_from_master(load_master_data(path))
    gen = spec.generate
    if gen is None:
        return network_from_master(generate_master_data())
    return network_from_master(generate_master_data(sites=gen.sites, skus=gen.skus, seed=gen.seed))


def network_from_master(md: MasterData) -> Network:
    """Index master data for the simulator (arrays by position, codes per site)."""
    sites = [
        SiteInfo(
            index=i,
            id=s.id,
            feed_mode=s.feed_mode,
            expected_interval_s=s.expected_interval_s,
            timezone=s.timezone,
            partner=s.partner,
        )
        for i, s in enumerate(md.sites)
    ]
    site_pos = {s.id: s.index for s in sites}
    n_s, n_k = len(sites), len(md.skus)
    reorder_point = np.zeros((n_s, n_k), dtype=np.int64)
    target = np.zeros((n_s, n_k), dtype=np.int64)
    for k, sku in enumerate(md.skus):
        for site_id, value in sku.reorder_point.items():
            reorder_point[site_pos[site_id], k] = value
        for site_id, value in sku.target.items():
            target[site_pos[site_id], k] = value
    # A site without a policy for a SKU still stocks a little of it, so demand can be served.
    target = np.maximum(target, reorder_point + 1)
    lanes_to: list[list[tuple[int, float]]] = [[] for _ in sites]
    for lane in md.lanes:
        lanes_to[site_pos[lane.to_site]].append((site_pos[lane.from_site], lane.transit_hours))
    partners = {site_pos[p.site]: _partner_codes(p, [s.id for s in sites]) for p in md.partners}
    item_code = [_item_codes(md, site, partners.get(site.index)) for site in sites]
    return Network(
        master=md,
        sites=sites,
        sku_ids=[s.id for s in md.skus],
        base_uom=[s.base_uom for s in md.skus],
        case_factor=np.array([s.uom_factors.get("case", 0) for s in md.skus], dtype=np.int64),
        unit_value=np.array([s.unit_value for s in md.skus], dtype=np.float64),
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


def _item_codes(md: MasterData, site: SiteInfo, partner: PartnerCodes | None) -> list[str]:
    # The feed of a site uses the local code when one exists for its scope (the partner for
    # a 3PL site, else the site itself): that is what the normalizer must map back.
    scope = partner.id if partner is not None else site.id
    local = {a.sku: a.code for a in md.aliases if a.scope == scope}
    return [local.get(s.id, s.id) for s in md.skus]
