"""The load test's own command-line options (Locust custom arguments) and what they mean.

Locust parses these with its other options, so they also work from the web UI, a config file
or `LOCUST_*` environment variables; `invtwin loadtest` passes them explicitly.
"""

from __future__ import annotations

from typing import Any

from loadtests.shapes import SHAPE_SUMMARY, SHAPES

DEFAULT_MASTER_DATA = "examples/network.yaml"


def add_arguments(parser: Any) -> None:
    """Register the twin's options on Locust's argument parser."""
    group = parser.add_argument_group("inventory twin")
    group.add_argument("--viewer-token", default="", help="Bearer token with the viewer role")
    group.add_argument("--ingest-token", default="", help="Bearer token with the ingest role")
    group.add_argument(
        "--master-data", default=DEFAULT_MASTER_DATA, help="Master data YAML: SKUs and sites"
    )
    group.add_argument(
        "--catalog",
        default="",
        help="The SKUs and sites as JSON (Catalog.save; invtwin loadtest writes it): read "
        "instead of parsing --master-data in every worker",
    )
    group.add_argument(
        "--batch-size", type=int, default=20, help="Events per POST /v1/events batch"
    )
    group.add_argument(
        "--ws-skus", type=int, default=20, help="SKUs each WebSocket subscriber follows"
    )
    group.add_argument(
        "--max-failure-ratio",
        type=float,
        default=0.01,
        help="Fail the run above this share of failed requests",
    )
    group.add_argument(
        "--max-p95-ms", type=float, default=1000.0, help="Fail the run above this HTTP p95"
    )
    group.add_argument(
        "--max-ws-p95-ms",
        type=float,
        default=5000.0,
        help="Fail the run above this WebSocket delivery p95 (0 = no WS threshold)",
    )
    group.add_argument(
        "--max-visible-p95-ms",
        type=float,
        default=5000.0,
        help="Fail the run above this ingest-to-visible p95 (event posted → shown on a "
        "WebSocket, on this machine's clock; 0 = no threshold)",
    )
    group.add_argument(
        "--visible-timeout-s",
        type=float,
        default=30.0,
        help="A probe event not shown within this many seconds is a failure",
    )
    group.add_argument(
        "--probe-users",
        type=int,
        default=2,
        help="Users timing ingest to visible (a fixed count, taken from -u)",
    )
    group.add_argument(
        "--shape",
        default="steady",
        choices=sorted(SHAPES),
        help="Users over time (with loadtests/shape_locustfile.py): " + SHAPE_SUMMARY,
    )
    group.add_argument(
        "--peak-users",
        type=int,
        default=0,
        help="Peak and spike shapes: users at the peak (0 = 3 x -u)",
    )
    group.add_argument(
        "--steps", type=int, default=5, help="Step shape: how many equal stairs up to -u"
    )
