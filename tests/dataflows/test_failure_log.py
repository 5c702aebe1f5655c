"""Records a step fails on are logged without flooding: the first of each kind with its
traceback, then one line per interval with how many more there were."""

from __future__ import annotations

import logging

import pytest

from dataflows.failure_log import FailureLog


def test_each_kind_is_logged_once_with_its_traceback_then_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    failures = FailureLog(logging.getLogger("flow.test"), 30.0, clock=lambda: now[0])
    with caplog.at_level(logging.ERROR, logger="flow.test"):
        for second in range(61):
            now[0] = float(second)
            for offset in range(100):  # a hundred poison records a second
                failures.failed(OverflowError("date value out of range"), "reading", f"@{offset}")
        failures.failed(KeyError("sku"), "reading", "@0")
    records = caplog.records
    assert len(records) == 4
    assert records[0].exc_info is not None
    assert records[0].getMessage() == "reading failed on @0; dead-lettered"
    assert records[1].getMessage().endswith("(2999 more like it in the last 30 s)")
    assert records[1].exc_info is None
    assert records[3].exc_info is not None  # another exception type: its own first line
