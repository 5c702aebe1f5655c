"""Fast checks of the demo and load-test commands that need no running stack."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.auth import TokenConfigError
from cli.demo import demo_clock, scenario_master_data, scenario_speed
from cli.loadtest import Thresholds, locust_argv
from cli.main import app
from cli.stack import generate_tokens, tokens_by_role
from loadtests.catalog import Catalog, EventFactory
from loadtests.settings import REPO_ROOT, LoadTestSettings
from loadtests.shapes import default_run_time
from twin.masterdata import load_master_data
from twin.validation import decode_event, decode_events

pytestmark = pytest.mark.e2e

runner = CliRunner()


def test_load_test_events_are_valid_canonical_events_for_api_fed_sites() -> None:
    catalog = Catalog.load(REPO_ROOT / "examples" / "network.yaml")
    md = load_master_data(REPO_ROOT / "examples" / "network.yaml")
    api_sites = {s.id for s in md.sites if s.feed_mode == "api"}
    events = EventFactory(catalog, random.Random(1))
    ids = set()
    for _ in range(200):
        event_id, body = events.encode_one()
        event = decode_event(body)
        assert event.event_id == event_id and event.site in api_sites
        ids.add(event_id)
    assert len(ids) == 200, "event ids must be unique (they are the idempotency keys)"
    assert len(decode_events(events.encode_batch(20))) == 20


def test_loadtest_takes_tokens_from_twin_api_tokens_and_refuses_without_them() -> None:
    settings = LoadTestSettings(api_tokens="a:architect, i:ingest ,v:viewer")
    assert settings.token_for("viewer", "architect") == "v"
    assert settings.token_for("ingest", "admin") == "i"
    assert LoadTestSettings(api_tokens="x:admin").token_for("ingest", "admin") == "x"

    result = runner.invoke(app, ["loadtest"], env={"TWIN_API_TOKENS": ""})
    assert result.exit_code == 2
    assert "need a viewer and an ingest token" in result.output


def test_locust_command_line_is_headless_with_reports_thresholds_shape_and_workers(
    tmp_path: Path,
) -> None:
    common = dict(
        host="http://127.0.0.1:8000", users=5, spawn_rate=5.0, run_time="10s", out_dir=tmp_path,
        viewer_token="v", ingest_token="i", master_data=Path("m.yaml"),
        thresholds=Thresholds(max_failure_ratio=0.02, max_p95_ms=800.0, max_ws_p95_ms=0.0,
                              max_visible_p95_ms=1500.0),
    )  # fmt: skip
    argv = locust_argv(shape=None, **common)  # type: ignore[arg-type]
    assert "--headless" in argv and argv[argv.index("--csv") + 1] == str(tmp_path / "stats")
    assert argv[argv.index("--html") + 1] == str(tmp_path / "report.html")
    assert argv[argv.index("--max-p95-ms") + 1] == "800.0"
    assert argv[argv.index("--max-visible-p95-ms") + 1] == "1500.0"
    assert "shape_locustfile.py" not in argv[argv.index("-f") + 1]
    assert "--processes" not in argv
    spike = locust_argv(shape="spike", workers=2, master_port=5999, **common)  # type: ignore[arg-type]
    assert spike[spike.index("-f") + 1].endswith("loadtests/shape_locustfile.py")
    assert spike[spike.index("--shape") + 1] == "spike"
    assert spike[spike.index("--processes") + 1] == "2"
    assert spike[spike.index("--master-bind-port") + 1] == "5999"


def test_loadtest_refuses_an_unknown_shape_and_takes_peak_as_the_peak_shape() -> None:
    env = {"TWIN_API_TOKENS": "v:viewer,i:ingest"}
    result = runner.invoke(app, ["loadtest", "--shape", "wobble"], env=env)
    assert result.exit_code == 2 and "no shape 'wobble'" in result.output
    assert default_run_time("soak") == "30m"
    help_text = runner.invoke(app, ["loadtest", "--help"], env=env).output
    for option in ("--shape", "--workers", "--max-visible-p95-ms", "--probe-users"):
        assert option in help_text


def test_demo_tokens_are_fresh_per_role_or_taken_from_the_environment() -> None:
    tokens = generate_tokens()
    assert set(tokens) == {"viewer", "operator", "architect", "ingest", "admin"}
    assert generate_tokens()["viewer"] != tokens["viewer"]
    assert tokens_by_role("v1:viewer,v2:viewer,a:architect") == {"viewer": "v1", "architect": "a"}
    with pytest.raises(TokenConfigError, match="unknown role 'boss'"):
        tokens_by_role("b:boss")


def test_demo_master_data_is_the_scenario_network(tmp_path: Path) -> None:
    path = scenario_master_data("baseline", tmp_path)
    md = load_master_data(path)
    assert len(md.sites) == 6 and len(md.skus) == 200  # baseline: generate 6 sites, 200 SKUs


def test_demo_refuses_an_unknown_scenario_before_starting_anything(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["demo", "--scenario", "no-such-scenario"], env={"TWIN_STATE_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "no-such-scenario" in result.output
    assert not (tmp_path / "logs").exists()


def test_stack_refuses_an_api_port_that_is_taken(tmp_path: Path) -> None:
    import socket

    from cli.stack import Stack
    from cli.supervisor import ChildFailed

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        stack = Stack(
            bootstrap="127.0.0.1:1",  # never contacted: the port is checked first
            master_data=tmp_path / "m.yaml",
            state_dir=tmp_path,
            tokens={"viewer": "v"},
            api_port=taken.getsockname()[1],
        )
        with pytest.raises(ChildFailed, match="already in use"):
            stack.start(say=lambda _line: None)
        stack.stop()


def test_demo_clock_runs_at_the_scenario_speed_and_continues_the_previous_run(
    tmp_path: Path,
) -> None:
    from datetime import timedelta

    from infra.clock import DomainClock, utc_now

    speed = scenario_speed("baseline")
    assert speed == 600.0  # baseline's live.speed (the default)
    first = demo_clock(speed, tmp_path)
    assert first.accelerated and first.speed == speed
    assert demo_clock(speed, tmp_path) == first, "a second demo run keeps the same clock"
    # A saved clock that has run for an hour reads ~600 hours ahead of the wall clock. Another
    # scenario's speed gets a new clock that takes over where that one stands at the instant
    # it is made (between `before` and `after`) and then runs ahead of it: never behind at
    # `after`, never ahead before it was made. A clock restarted from the wall clock would be
    # ~600 hours behind.
    saved = DomainClock(utc_now() - timedelta(hours=1), 600.0)
    (tmp_path / "demo" / "clock.json").write_text(
        json.dumps({"clock_origin": saved.origin.isoformat(), "clock_speed": 600.0})
    )
    before = utc_now()
    faster = demo_clock(3600.0, tmp_path)
    after = utc_now()
    assert faster.speed == 3600.0
    assert saved.at(after) - after > timedelta(hours=590)
    assert faster.at(after) >= saved.at(after)
    assert faster.at(before) - saved.at(before) <= timedelta(milliseconds=1)


def test_the_stack_gives_every_part_the_demo_clock(tmp_path: Path) -> None:
    from cli.stack import Stack
    from infra.clock import ClockSettings

    clock = demo_clock(600.0, tmp_path)
    common = dict(bootstrap="127.0.0.1:1", master_data=tmp_path / "m.yaml", state_dir=tmp_path)
    env = Stack(**common, tokens={}, clock=clock).env()  # type: ignore[arg-type]
    assert env["TWIN_CLOCK_SPEED"] == "600.0"
    rebuilt = ClockSettings(
        clock_origin=env["TWIN_CLOCK_ORIGIN"],  # type: ignore[arg-type]
        clock_speed=float(env["TWIN_CLOCK_SPEED"]),
    ).domain_clock()
    assert rebuilt == clock
    plain = Stack(**common, tokens={}).env()  # type: ignore[arg-type]
    assert not [name for name in plain if name.startswith("TWIN_CLOCK_")]
