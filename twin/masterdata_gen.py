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

from twin.events import EventType
from twin.masterdata import ItemAlias, Lane, MasterData, PartnerProfile, Site, Sku

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
    rng = random.Random(seed)
    site_list: list[Site] = []
    partner_sites: list[tuple[str, str, str]] = []  # (partner id, site id, zone)
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
    site_ids = [s.id for s in site_list]
    partners = [_partner(p, s, z, site_ids) for p, s, z in partner_sites]
    sku_list = [_sku(rng, n, site_ids) for n in range(1, skus + 1)]
    aliases = _aliases(rng, site_list, partners, sku_list)
    lanes = _lanes(rng, site_list)
    return MasterData(
        sites=site_list, skus=sku_list, aliases=aliases, partners=partners, lanes=lanes
    )


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


def _sku(rng: random.Random, n: int, site_ids: list[str]) -> Sku:
    case = rng.choice([6, 12, 12, 24, 48])
    pallet = case * rng.choice([20, 40, 60])
    unit_value = round(math.exp(rng.uniform(math.log(2.0), math.log(400.0))), 2)
    reorder_point: dict[str, int] = {}
    target: dict[str, int] = {}
    for site in site_ids:
        point = rng.randint(2, 20) * case // 2
        reorder_point[site] = point
        target[site] = point * rng.choice([2, 3, 4])
    return Sku(
        id=f"SKU-{n:05d}",
        name=f"Item {n}",
        base_uom="each",
        uom_factors={"each": 1, "case": case, "pallet": pallet},
        unit_value=unit_value,
        reorder_point=reorder_point,
        target=target,
    )


def _aliases(
    rng: random.Random, sites: list[Site], partners: list[PartnerProfile], skus: list[Sku]
) -> list[ItemAlias]:
    # Batch sites and the second API site keep legacy local codes for a share of SKUs;
    # each 3PL partner has its own item number for every SKU.
    aliases: list[ItemAlias] = []
    for site in sites:
        if site.feed_mode == "3pl" or site.id == "WH-01":
            continue
        prefix = "L" + site.id.replace("WH-", "")
        for sku in skus:
            if rng.random() < 0.3:
                aliases.append(ItemAlias(scope=site.id, code=f"{prefix}-{sku.id[4:]}", sku=sku.id))
    for partner in partners:
        for sku in skus:
            code = f"{partner.id[:2]}{int(sku.id[4:]) * 7 + 100000}"
            aliases.append(ItemAlias(scope=partner.id, code=code, sku=sku.id))
    return aliases


def _lanes(rng: random.Random, sites: list[Site]) -> list[Lane]:
    lanes: list[Lane] = []
    for i, a in enumerate(sites):
        for b in sites[i + 1 :]:
            hours = 12.0 if a.region == b.region else float(rng.choice([24, 36, 48, 72]))
            lanes.append(Lane(from_site=a.id, to_site=b.id, transit_hours=hours))
            lanes.append(Lane(from_site=b.id, to_site=a.id, transit_hours=hours))
    return lanes
