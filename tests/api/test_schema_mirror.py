"""The OpenAPI models (`api/schemas.py`) mirror the wire records (`twin/wire.py`) exactly.

The API encodes the twin's msgspec records and documents them with pydantic models; this
test keeps the two from drifting: same fields, same required ones, and a record the twin
encodes validates against its model and comes back unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from pydantic import BaseModel

from api import schemas
from tests.api.fakes import alert, position, site_metric
from twin.wire import (
    Alert,
    LatencyStats,
    NetworkTotals,
    Position,
    Recommendation,
    SiteMetric,
    SitePosition,
)

AT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
PAIRS: list[tuple[type[msgspec.Struct], type[BaseModel]]] = [
    (SitePosition, schemas.SitePositionModel),
    (NetworkTotals, schemas.NetworkTotalsModel),
    (Position, schemas.PositionModel),
    (Recommendation, schemas.RecommendationModel),
    (Alert, schemas.AlertModel),
    (LatencyStats, schemas.LatencyStatsModel),
    (SiteMetric, schemas.SiteMetricModel),
]


def _wire_fields(struct: type[msgspec.Struct]) -> tuple[set[str], set[str]]:
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    names = {f.encode_name for f in info.fields}
    required = {f.encode_name for f in info.fields if f.required}
    if info.tag_field is not None:
        names.add(info.tag_field)
    return names, required


@pytest.mark.parametrize(("struct", "model"), PAIRS, ids=[s.__name__ for s, _ in PAIRS])
def test_each_model_has_exactly_the_fields_of_its_wire_record(struct, model) -> None:
    names, required = _wire_fields(struct)
    model_names = set(model.model_fields)
    assert model_names == names, f"{model.__name__} differs from {struct.__name__}"
    model_required = {n for n, f in model.model_fields.items() if f.is_required()}
    # the model may require more (what the wire always writes), never less
    assert required <= model_required, (
        f"{model.__name__} makes {required - model_required} optional"
    )


def _records() -> list[msgspec.Struct]:
    """One of each top-level record, every optional part filled (the shared API fakes)."""
    recommended = msgspec.structs.replace(
        alert("LOW_STOCK:SKU-1:WH-01:1"),
        recommendation=Recommendation(
            action="transfer",
            from_site="WH-02",
            to_site="WH-01",
            qty=17,
            value=170.0,
            needs_approval=False,
            expected_arrival=AT,
            reason="excess at WH-02",
        ),
        details={"atp": 3, "reorder_point": 20},
    )
    metric = msgspec.structs.replace(
        site_metric("WH-01"), transfer_cycle_s_p50=5400.0, last_event_at=AT
    )
    return [position("SKU-1", 7), recommended, metric]


@pytest.mark.parametrize("record", _records(), ids=lambda r: type(r).__name__)
def test_what_the_twin_encodes_validates_against_its_model_unchanged(record) -> None:
    model = dict(PAIRS)[type(record)]
    encoded = msgspec.json.decode(msgspec.json.encode(record))
    parsed = model.model_validate(encoded)
    again = msgspec.json.decode(parsed.model_dump_json(exclude_unset=True))
    assert again == encoded
