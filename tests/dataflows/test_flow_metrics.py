"""The flows' `/metrics` and `/healthz`, scraped from the real `invtwin flow` processes on the
real broker, and the Grafana dashboard that queries them.

A burst of API feed records (good ones, re-sent ones, unreadable ones) goes through both
flows; every counter must end at what was sent and every partition's consumer lag at 0. A
local cluster (`-p 2`) serves one endpoint per process, on consecutive ports.
"""

from __future__ import annotations

import json
import random
import re
import socket
import subprocess
import urllib.error
import urllib.request

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dataflows.health import health_app
from dataflows.metrics import NormalizeMetrics, TwinMetrics
from dataflows.settings import FlowSettings
from tests.dataflows.kafkakit import REPO, produce, start_flow
from tests.dataflows.scripted import script_events
from tests.dataflows.test_flows_on_kafka import calm_master
from tests.polling import wait_until
from twin.masterdata import dump_master_data

GOOD = 3_000
RESENT = 200
UNREADABLE = 10

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""  # not listening yet


def _scrape(port: int) -> Samples:
    status, text = _get(port, "/metrics")
    assert status == 200, (status, text[:300])
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over the series whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def _lags(samples: Samples, topic: str) -> dict[str, float]:
    return {
        dict(ls)["partition"]: v
        for (n, ls), v in samples.items()
        if n == "invtwin_flow_consumer_lag" and dict(ls)["topic"] == topic
    }


@pytest.mark.integration
def test_scraped_counters_match_a_burst_and_the_lag_falls_to_zero(
    kafka_bootstrap, twin_topics, topic_suffix, tmp_path
):
    master = calm_master()
    master_path = tmp_path / "master.yaml"
    master_path.write_text(dump_master_data(master))
    events = script_events(master, random.Random(5), GOOD)
    encode = msgspec.json.Encoder().encode
    records = [encode(e) for e in events]
    records += random.Random(6).sample(records, RESENT)  # same ids again: twin duplicates
    records += [b"{not json %d" % i for i in range(UNREADABLE)]
    random.Random(7).shuffle(records)

    ports = {"normalize": _free_port(), "twin": _free_port()}
    flows: dict[str, subprocess.Popen] = {}
    try:
        for name, port in ports.items():
            env = {
                "TWIN_KAFKA_BOOTSTRAP": kafka_bootstrap,
                "TWIN_MASTER_DATA": str(master_path),
                "TWIN_STATE_DIR": str(tmp_path),
                "TWIN_FLOW_METRICS_PORT": str(port),
                "TWIN_FLOW_METRICS_HOST": "127.0.0.1",
            }
            args = ["--topic-suffix", topic_suffix, "--no-recovery"]
            flows[name] = start_flow(name, args, env, tmp_path / f"{name}.log")
        for name, port in ports.items():
            wait_until(
                lambda port=port, name=name: (
                    _get(port, "/healthz")[0] == 200 or flows[name].poll() is not None
                ),
                120,
                f"{name} /healthz",
            )
            assert flows[name].poll() is None, (tmp_path / f"{name}.log").read_text()[-3000:]
            assert _get(port, "/healthz") == (200, "ok\n")

        produce(kafka_bootstrap, twin_topics["feeds.api.v1"], ((None, r) for r in records))

        events_topic = twin_topics["inventory.events.v1"]
        api_topic = twin_topics["feeds.api.v1"]
        seen_in: list[float] = []  # the twin's records_in at each scrape, during the burst

        def twin_done() -> bool:
            samples = _scrape(ports["twin"])
            seen_in.append(_value(samples, "invtwin_twin_records_in_total"))
            return seen_in[-1] >= GOOD + RESENT

        wait_until(twin_done, 120, "the twin flow to read every event")
        assert seen_in == sorted(seen_in)  # a counter only grows

        def caught_up(port: int, topic: str) -> bool:
            lags = _lags(_scrape(port), topic)
            return len(lags) == 6 and not any(lags.values())

        wait_until(lambda: caught_up(ports["normalize"], api_topic), 60, "normalize lag 0")
        wait_until(lambda: caught_up(ports["twin"], events_topic), 60, "twin lag 0")

        normalize = _scrape(ports["normalize"])
        feed = {"feed": "api"}
        assert _value(normalize, "invtwin_normalize_records_in_total", **feed) == len(records)
        assert _value(normalize, "invtwin_normalize_events_out_total", **feed) == GOOD + RESENT
        assert _value(normalize, "invtwin_normalize_dead_letters_total", **feed) == UNREADABLE
        flushes = "invtwin_flow_sink_flush_seconds_count"
        assert _value(normalize, flushes, topic=events_topic) > 0
        for other in ("batch", "3pl"):
            assert _value(normalize, "invtwin_normalize_records_in_total", feed=other) == 0

        def outcomes_counted() -> bool:
            # shards count their outcomes when they wake (every coalesce interval)
            samples = _scrape(ports["twin"])
            return (
                _value(samples, "invtwin_twin_events_applied_total")
                + _value(samples, "invtwin_twin_duplicates_total")
                >= GOOD + RESENT
            )

        wait_until(outcomes_counted, 30, "the shards to count every event")
        twin = _scrape(ports["twin"])
        assert _value(twin, "invtwin_twin_records_in_total") == GOOD + RESENT
        assert _value(twin, "invtwin_twin_events_applied_total") == GOOD
        assert _value(twin, "invtwin_twin_duplicates_total") == RESENT
        assert _value(twin, "invtwin_twin_dead_letters_total") == 0
        skus = {e.sku for e in events}
        wait_until(
            lambda: (
                _value(_scrape(ports["twin"]), "invtwin_twin_positions_written_total") >= len(skus)
            ),
            30,
            "a position written per SKU",
        )
        # the invariant checks, from the shards' reports every metrics interval
        shipped = sum(int(e.qty) for e in events if e.type == "TRANSFER_SHIPPED")
        received = sum(int(e.qty) for e in events if e.type == "TRANSFER_RECEIVED")
        units = "invtwin_twin_transfer_units"

        def transfers_reported() -> bool:
            samples = _scrape(ports["twin"])
            return [_value(samples, units, state=s) for s in ("shipped", "received")] == [
                shipped,
                received,
            ]

        assert shipped > 0 and received > 0
        wait_until(transfers_reported, 30, "every shard to report its units on transfers")
        twin = _scrape(ports["twin"])
        assert _value(twin, units, state="in_transit") == shipped - received
        assert (
            _value(twin, "invtwin_twin_invariant_violations", check="transfer_stock_conserved") == 0
        )
        # the twin reads the DLQ too (dead letters per site): it holds the normalize letters
        dlq_lags = _lags(twin, twin_topics["inventory.dlq.v1"])
        assert dlq_lags and set(dlq_lags.values()) <= {0}
        for name, flow in flows.items():
            assert flow.poll() is None, (tmp_path / f"{name}.log").read_text()[-3000:]
    finally:
        for flow in flows.values():
            flow.terminate()
        for flow in flows.values():
            try:
                flow.wait(timeout=30)
            except subprocess.TimeoutExpired:
                flow.kill()
                flow.wait()


def _free_port_run(count: int) -> int:
    """The first of `count` consecutive free ports."""
    for _ in range(50):
        first = _free_port()
        sockets: list[socket.socket] = []
        try:
            for n in range(count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", first + n))
            return first
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise AssertionError(f"no {count} consecutive free ports")


@pytest.mark.integration
def test_each_process_of_a_local_cluster_serves_its_own_metrics(
    kafka_bootstrap, twin_topics, topic_suffix, tmp_path
):
    master = calm_master()
    master_path = tmp_path / "master.yaml"
    master_path.write_text(dump_master_data(master))
    encode = msgspec.json.Encoder().encode
    records = [encode(e) for e in script_events(master, random.Random(8), 2_000)]
    produce(kafka_bootstrap, twin_topics["feeds.api.v1"], ((None, r) for r in records))
    metrics_port = _free_port_run(2)
    env = {
        "TWIN_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TWIN_MASTER_DATA": str(master_path),
        "TWIN_STATE_DIR": str(tmp_path),
        "TWIN_FLOW_METRICS_PORT": str(metrics_port),
        "TWIN_FLOW_METRICS_HOST": "127.0.0.1",
    }
    args = ["-p", "2", "--base-port", str(_free_port_run(2))]
    args += ["--topic-suffix", topic_suffix, "--no-recovery"]
    log = tmp_path / "normalize.log"
    cluster = start_flow("normalize", args, env, log)
    ports = (metrics_port, metrics_port + 1)
    api_topic = twin_topics["feeds.api.v1"]
    try:

        def all_read() -> bool:
            assert cluster.poll() is None, log.read_text()[-3000:]
            if any(_get(port, "/healthz")[0] != 200 for port in ports):
                return False
            scrapes = [_scrape(port) for port in ports]
            total = sum(_value(s, "invtwin_normalize_records_in_total") for s in scrapes)
            lags = [_lags(s, api_topic) for s in scrapes]
            return total == len(records) and not set(lags[0]) & set(lags[1])

        wait_until(all_read, 120, "both processes to serve their metrics and read the burst")
        scrapes = [_scrape(port) for port in ports]
        # the feed's six partitions are shared out: each process reports the lag of its own
        owned = [_lags(s, api_topic) for s in scrapes]
        assert all(owned) and len(owned[0]) + len(owned[1]) == 6
        wait_until(
            lambda: not any(v for port in ports for v in _lags(_scrape(port), api_topic).values()),
            60,
            "lag 0 on every partition",
        )
    finally:
        cluster.terminate()
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cluster.kill()
            cluster.wait()


def test_the_endpoint_answers_healthz_metrics_and_nothing_else():
    metrics = TwinMetrics()
    metrics.records_in.inc(3)
    app = health_app(metrics.registry)
    replies: list[str] = []

    def get(path: str) -> str:
        body = b"".join(
            app(
                {"PATH_INFO": path, "REQUEST_METHOD": "GET", "QUERY_STRING": ""},
                lambda status, headers, *_: replies.append(status),
            )
        )
        return body.decode()

    assert get("/healthz") == "ok\n" and replies[-1].startswith("200")
    assert "invtwin_twin_records_in_total 3.0" in get("/metrics") and replies[-1].startswith("200")
    get("/elsewhere")
    assert replies[-1].startswith("404")


def test_each_process_of_a_flow_gets_its_own_port_and_zero_turns_metrics_off():
    settings = FlowSettings()
    assert settings.metrics_port("normalize") == 9110
    assert [settings.metrics_port("twin", i) for i in (None, 0, 1, 2)] == [9120, 9120, 9121, 9122]
    assert FlowSettings(flow_metrics_port=9300).metrics_port("twin", 3) == 9303
    assert FlowSettings(flow_metrics_port=0).metrics_port("normalize", 1) is None


def test_the_shard_outcome_codes_are_counted_per_reason():
    from dataflows.shard_dead_letters import FAILED
    from twin.shard import APPLIED, CONFLICT, DUPLICATE, EXPIRED, UNCHANGED

    metrics = TwinMetrics()
    metrics.outcomes(bytes([APPLIED, UNCHANGED, DUPLICATE, DUPLICATE, EXPIRED, CONFLICT, FAILED]))
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert got[("invtwin_twin_events_applied_total", ())] == 2
    assert got[("invtwin_twin_duplicates_total", ())] == 2
    for reason in ("outside_horizon", "event_id_conflict", "processing_failed"):
        assert got[("invtwin_twin_dead_letters_total", (("reason", reason),))] == 1


# ---- the Grafana dashboard ----------------------------------------------------------------

DASHBOARD = REPO / "docs" / "grafana" / "inventory-twin.json"
_DEFINED = re.compile(r"""["'](invtwin_[a-z0-9_]+)["']""")
_QUERIED = re.compile(r"\b(invtwin_[a-z0-9_]+)")
_SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def _defined_metric_names() -> set[str]:
    sources = [REPO / "api" / "telemetry.py", REPO / "dataflows" / "metrics.py"]
    return {name for path in sources for name in _DEFINED.findall(path.read_text())}


def _base_name(series: str, defined: set[str]) -> str:
    if series in defined:
        return series
    for suffix in _SUFFIXES:
        if series.endswith(suffix) and series[: -len(suffix)] in defined:
            return series[: -len(suffix)]
    return series


def _expressions(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for value in node.values() for e in _expressions(value)]
    if isinstance(node, list):
        return [e for value in node for e in _expressions(value)]
    return []


def test_the_dashboard_parses_and_queries_only_metrics_the_code_defines():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["panels"]
    expressions = _expressions(dashboard)
    assert len(expressions) >= 10
    defined = _defined_metric_names()
    assert {"invtwin_ingest_events", "invtwin_flow_consumer_lag"} <= defined
    queried = {_base_name(s, defined) for e in expressions for s in _QUERIED.findall(e)}
    assert queried - defined == set()
    # the flows' metrics and the API's WebSocket ones are all on the dashboard
    flow_names = set(_DEFINED.findall((REPO / "dataflows" / "metrics.py").read_text()))
    assert flow_names <= queried
    assert {"invtwin_ws_connections", "invtwin_ws_refused"} <= queried


def test_every_flow_metric_is_registered_under_its_documented_name():
    names = {
        family.name
        for metrics in (NormalizeMetrics(), TwinMetrics())
        for family in metrics.registry.collect()
    }
    documented = set(_DEFINED.findall((REPO / "dataflows" / "metrics.py").read_text()))
    assert names == documented
