"""A seeded generator of plausible master data (used by `invtwin sim network` and the example).

Scenario: a distributor with about half its sites posting through the WMS API, most of the
rest through middleware batches and one (or more) run by a 3PL partner sending flat files
with its own codes, local item numbers and local time. SKUs come in each, case and pallet;
every site has a reorder point and a target per SKU; every pair of sites has a transfer lane.
The same arguments always give the same data.
"""

from __future__ import annotations

import math
import random
from array import array

from twin.catalog_columns import CatalogColumns, ColumnsBuilder
from twin.events import EventType
from twin.masterdata_types import Lane, MasterData, PartnerProfile, Site

# (region, IANA zone) cycled over the generated sites.
_REGIONS = [
    ("east", "America/New_York"),
    ("central", "America/Chicago"),
    ("west", "America/Los_Angeles"),
    ("mountain", "America/Denver"),
    ("southwest", "America/Phoenix"),
    ("central", "America/Chicago"),
    ("europe", "Europe/Amsterdam"),
]
_INTERVAL_S = {"api": 60.0, "batch": 900.0, "3pl": 3600.0}

PARTNER_TXN_TYPES: dict[str, EventType] = {
    "REC": EventType.RECEIVED,
    "PUT": EventType.PUT_AWAY,
    "SHP": EventType.SHIPPED,
    "PCK": EventType.PICKED,
    "ADJ": EventType.ADJUSTED,
    "CNT": EventType.COUNTED,
    "HLD": EventType.QUALITY_HOLD,
    "REL": EventType.QUALITY_RELEASE,
    "RET": EventType.RETURNED,
    "TRO": EventType.TRANSFER_SHIPPED,
    "TRI": EventType.TRANSFER_RECEIVED,
    "RSV": EventType.RESERVED,
    "RRL": EventType.RESERVATION_RELEASED,
}
PARTNER_UOM_CODES = {"EA": "each", "CS": "case", "PL": "pallet"}


def feed_modes(n_sites: int) -> list[str]:
    """Half the sites on the API, one 3PL (from 3 sites on), the rest on batch."""
    n_3pl = 1 if n_sites >= 3 else 0
    n_api = max(1, math.ceil(n_sites / 2)) if n_sites else 0
    n_batch = n_sites - n_api - n_3pl
    return ["api"] * n_api + ["batch"] * n_batch + ["3pl"] * n_3pl


def generate_master_data(sites: int = 6, skus: int = 300, seed: int = 0) -> MasterData:
    """A consistent network of `sites` sites and `skus` SKUs; same seed, same data."""
    return generate_columns(sites=sites, skus=skus, seed=seed).to_master_data()


def generate_columns(sites: int = 6, skus: int = 300, seed: int = 0) -> CatalogColumns:
    """The network of `generate_master_data` built straight into columns (catalogue size)."""
    rng = random.Random(seed)
    site_list, partner_sites = _sites(sites)
    site_ids = [s.id for s in site_list]
    partners = [_partner(p, s, z, site_ids) for p, s, z in partner_sites]
    builder = ColumnsBuilder(site_list)
    policies: list[tuple[list[int], list[int]]] = []
    for n in range(1, skus + 1):
        policies.append(_sku(rng, builder, n, len(site_ids)))
    builder.finish_skus()
    for i, (points, targets) in enumerate(policies):
        row = i * len(site_ids)
        builder.reorder_point[row : row + len(site_ids)] = array("q", points)
        builder.target[row : row + len(site_ids)] = array("q", targets)
    del policies
    _aliases(rng, site_list, partners, builder)
    lanes = _lanes(rng, site_list)
    return builder.build(partners, lanes)


def _sites(sites: int) -> tuple[list[Site], list[tuple[str, str, str]]]:
    """The sites, and (partner id, site id, zone) of each 3PL site."""
    site_list: list[Site] = []
    partner_sites: list[tuple[str, str, str]] = []
    n_wh = n_tpl = 0
    for i, mode in enumerate(feed_modes(sites)):
        region, zone = _REGIONS[i % len(_REGIONS)]
        if mode == "3pl":
            n_tpl += 1
            site_id = f"TPL-{n_tpl:02d}"
            partner_id = "ACME" if n_tpl == 1 else f"PARTNER{n_tpl:02d}"
            site_list.append(
                Site(
                    id=site_id,
                    name=f"{partner_id.title()} 3PL {region}",
                    kind="3pl",
                    region=region,
                    feed_mode="3pl",
                    expected_interval_s=_INTERVAL_S[mode],
                    timezone=zone,
                    partner=partner_id,
                )
            )
            partner_sites.append((partner_id, site_id, zone))
        else:
            n_wh += 1
            site_id = f"WH-{n_wh:02d}"
            site_list.append(
                Site(
                    id=site_id,
                    name=f"{region.title()} {'DC' if n_wh == 1 else 'warehouse'} {n_wh}",
                    kind="dc" if n_wh == 1 else "warehouse",
                    region=region,
                    feed_mode=mode,  # type: ignore[arg-type]
                    expected_interval_s=_INTERVAL_S[mode],
                    timezone=zone,
                )
            )
    return site_list, partner_sites


def _partner(partner_id: str, site_id: str, zone: str, site_ids: list[str]) -> PartnerProfile:
    # The partner names every network site by its own warehouse code (WHSE, TO_WHSE).
    return PartnerProfile(
        id=partner_id,
        name=f"{partner_id.title()} Logistics",
        site=site_id,
        txn_types=dict(PARTNER_TXN_TYPES),
        timezone=zone,
        timestamp_format="%m/%d/%Y %H:%M:%S",
        uom_codes=dict(PARTNER_UOM_CODES),
        warehouses={s.replace("-", ""): s for s in site_ids},
    )


def _sku(
    rng: random.Random, builder: ColumnsBuilder, n: int, n_sites: int
) -> tuple[list[int], list[int]]:
    """Add SKU `n` and its units; its reorder points and targets, one per site in order."""
    case = rng.choice([6, 12, 12, 24, 48])
    pallet = case * rng.choice([20, 40, 60])
    unit_value = round(math.exp(rng.uniform(math.log(2.0), math.log(400.0))), 2)
    points: list[int] = []
    targets: list[int] = []
    randint, choice = rng.randint, rng.choice
    for _ in range(n_sites):
        point = randint(2, 20) * case // 2
        points.append(point)
        targets.append(point * choice([2, 3, 4]))
    builder.add_sku(f"SKU-{n:05d}", f"Item {n}", "each", unit_value)
    builder.add_unit("case", case)
    builder.add_unit("pallet", pallet)
    return points, targets


def _aliases(
    rng: random.Random, sites: list[Site], partners: list[PartnerProfile], builder: ColumnsBuilder
) -> None:
    # Batch sites and the second API site keep legacy local codes for a share of SKUs;
    # each 3PL partner has its own item number for every SKU.
    sku_ids = builder.sku_ids
    for site in sites:
        if site.feed_mode == "3pl" or site.id == "WH-01":
            continue
        prefix = "L" + site.id.replace("WH-", "")
        codes = builder.aliases.setdefault(site.id, {})
        for sku in sku_ids:
            if rng.random() < 0.3:
                codes[f"{prefix}-{sku[4:]}"] = sku
    for partner in partners:
        codes = builder.aliases.setdefault(partner.id, {})
        for sku in sku_ids:
            codes[f"{partner.id[:2]}{int(sku[4:]) * 7 + 100000}"] = sku


def _lanes(rng: random.Random, sites: list[Site]) -> list[Lane]:
    lanes: list[Lane] = []
    for i, a in enumerate(sites):
        for b in sites[i + 1 :]:
            hours = 12.0 if a.region == b.region else float(rng.choice([24, 36, 48, 72]))
            lanes.append(Lane(from_site=a.id, to_site=b.id, transit_hours=hours))
            lanes.append(Lane(from_site=b.id, to_site=a.id, transit_hours=hours))
    return lanes
