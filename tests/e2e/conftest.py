"""Fixtures of the end-to-end tests: the real stack on per-run topics, and a headless browser.

`live_stack` starts both dataflows and the API as `invtwin` processes (the same commands the
demo and compose run) against the shared test broker, on topics unique to this run, with
state in a temporary folder; it is shared by the browser and Locust tests of this package
and stopped (process groups, SIGTERM then SIGKILL) at the end.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from cli.stack import REPO_ROOT, Stack, free_port, generate_tokens
from infra.errors import BrokerError
from infra.kafka_clients import delete_topics
from infra.topics import topic_names

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's Chromium (`apt-get install -y chromium`); .ci/run installs it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: apt-get install -y chromium", pytrace=False)
    return path


@pytest.fixture(scope="package")
def live_stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Broker (shared), unique topics, both dataflows and the API, ready to serve."""
    suffix = f".e2e{uuid.uuid4().hex[:10]}"
    state_dir = tmp_path_factory.mktemp("e2e-state")
    stack = Stack(
        bootstrap=kafka_bootstrap,
        master_data=REPO_ROOT / "examples" / "network.yaml",
        state_dir=state_dir,
        tokens=generate_tokens(),
        api_port=free_port(),
        topic_suffix=suffix,
        log_dir=ARTIFACTS / "e2e-logs",
        # Site metrics every second so the latency chart moves within a test's time; a high
        # ingest rate limit so the load test measures the stack, not the per-token throttle.
        flow_env={"TWIN_FLOW_METRICS_INTERVAL_S": "1", "TWIN_FLOW_SNAPSHOT_INTERVAL_S": "30"},
        extra_api_env={"TWIN_INGEST_RATE_PER_S": "5000", "TWIN_INGEST_BURST": "10000"},
    )
    try:
        stack.start(say=lambda line: print(f"e2e stack: {line}"))
        yield stack
    finally:
        stack.stop()
        with contextlib.suppress(BrokerError):
            delete_topics(kafka_bootstrap, list(topic_names(suffix).values()))


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """A headless Chromium driven by Playwright's sync API."""
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
