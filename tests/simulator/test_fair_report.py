"""The fair report: each fault against a control run of the same seed without it."""

from __future__ import annotations

import pytest

from simulator.control import control_variants, without_faults
from simulator.fair import run_data
from simulator.runner import run_scenario
from simulator.spec import BatchDelayFault, DuplicateFault, OutageFault, ReportSpec
from tests.simulator.helpers import small

OUTAGE = OutageFault(kind="outage", sites=["TPL-01"], start_hour=4, duration_hours=3)


def test_leaving_a_fault_out_changes_no_demand_and_no_other_feed():
    scenario = small("baseline", duration_hours=10, faults=[OUTAGE])
    hit, _ = run_data(scenario, 3)
    control, _ = run_data(without_faults(scenario, ()), 3)
    # Same physical day: every flow and every order is the same.
    assert hit.flows == control.flows and hit.stats["orders"] == control.stats["orders"]
    assert hit.stats["lost_orders"] == control.stats["lost_orders"]
    # The sites the fault does not touch see exactly the same feed.
    for s, site in enumerate(hit.site_ids):
        if site != "TPL-01":
            assert hit.latency_s[s].tolist() == control.latency_s[s].tolist()
            assert [x.site_exact[s] for x in hit.samples] == [
                x.site_exact[s] for x in control.samples[: len(hit.samples)]
            ]


def test_the_controls_a_scenario_needs():
    one = small("3pl-outage")
    assert control_variants(one) == [()]
    mixed = small("mixed")
    assert control_variants(mixed) == [(1, 2, 3, 4), (0, 2, 3, 4), (0, 1, 3, 4), (0, 1, 2, 4),
                                       (0, 1, 2, 3), ()]  # fmt: skip
    off = mixed.model_copy(update={"report": ReportSpec(controls=False)})
    assert control_variants(off) == []


def test_a_fault_whose_run_equals_its_control_recovers_in_zero_seconds():
    # The 3PL resends every file all day: the twin drops every copy, so nothing changes
    # but the partner's hourly rhythm, which the control has too.
    resend = DuplicateFault(kind="duplicates", rate=1.0, sites=["TPL-01"])
    report = run_scenario(small("3pl-outage", duration_hours=12, faults=[resend]), seed=7)
    (fault,) = report["faults"]
    assert report["duplicates"]["injected"] == report["duplicates"]["rejected"] > 0
    assert fault["judged_against"] == "control"
    assert fault["recovery_s"] == 0.0
    assert fault["accuracy_gap_max"] == 0.0 and fault["abs_error_added"] == 0
    # The feed's rhythm is still there, and it is not a recovery time.
    assert fault["catch_up_s"] > 600
    for figures in report["sites"].values():
        assert figures["fault_share"] == 0.0
        assert figures["cadence_share"] == figures["discrepancy_share"]


def test_in_3pl_outage_the_fault_share_is_at_tpl01_and_the_cadence_share_apart():
    report = run_scenario(small("3pl-outage"), seed=7)
    sites = report["sites"]
    fault_share = {site: figures["fault_share"] for site, figures in sites.items()}
    assert max(fault_share, key=fault_share.__getitem__) == "TPL-01"
    assert fault_share["TPL-01"] > 0.1
    # Other sites' feeds are untouched: their discrepancy is all cadence lag.
    assert all(share == 0.0 for site, share in fault_share.items() if site != "TPL-01")
    # TPL-01's hourly files cost discrepancy in the control too: reported as cadence.
    assert sites["TPL-01"]["cadence_share"] > 0.1
    for site, figures in sites.items():
        assert figures["cadence_share"] + figures["fault_share"] == pytest.approx(
            figures["discrepancy_share"], abs=2e-4
        )
        assert report["discrepancy_split"][site] == {
            "cadence": figures["cadence_share"], "fault": figures["fault_share"]
        }  # fmt: skip
    (fault,) = report["faults"]
    assert fault["judged_against"] == "control"
    assert fault["accuracy_gap_max"] > 0.3 and fault["abs_error_added"] > 0
    # Back within the control's band within a sample or two of the partner coming back.
    assert fault["recovery_s"] is not None and 0 < fault["recovery_s"] <= 3600
    assert report["controls"]["runs"] == 1


def test_each_fault_of_several_is_judged_against_the_run_without_it():
    delay = BatchDelayFault(kind="batch_delay", sites=["WH-04"], start_hour=2, duration_hours=2,
                            delay_minutes=60)  # fmt: skip
    resend = DuplicateFault(kind="duplicates", rate=1.0, sites=["TPL-01"])
    scenario = small("baseline", duration_hours=8, faults=[resend, delay, OUTAGE])
    report = run_scenario(scenario, seed=2)
    by_kind = {f["kind"]: f for f in report["faults"]}
    assert by_kind["duplicates"]["recovery_s"] == 0.0
    assert by_kind["batch_delay"]["abs_error_added"] > 0
    assert by_kind["outage"]["abs_error_added"] > 0
    assert report["controls"]["runs"] == 4
    assert report["sites"]["WH-04"]["fault_share"] > 0
    assert report["sites"]["WH-01"]["fault_share"] == 0.0


def test_without_controls_faults_are_judged_against_the_usual_level():
    scenario = small("3pl-outage", duration_hours=16).model_copy(
        update={"report": ReportSpec(controls=False)}
    )
    report = run_scenario(scenario, seed=7)
    (fault,) = report["faults"]
    assert fault["judged_against"] == "usual level"
    assert fault["recovery_s"] == fault["accuracy_recovery_s"]
    assert "controls" not in report and "cadence_share" not in report["sites"]["TPL-01"]


def test_demand_windows_are_listed_and_fault_free_runs_need_no_control():
    report = run_scenario(small("peak", duration_hours=12), seed=1)
    assert report["demand_windows"] == [
        {"kind": "demand", "multiplier": 5.0, "sites": None, "start_h": 10.0, "end_h": 12.0}
    ]
    assert report["faults"] == [] and "controls" not in report
    assert report["stockouts"]["max"] >= report["stockouts"]["final"] >= 0
    assert report["value_at_risk"]["max"] >= report["value_at_risk"]["mean"] >= 0
