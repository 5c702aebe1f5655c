"""What a scenario run may be given: a name from the shipped library or an inline spec.

Never a path. A name is looked up among `simulator.scenarios.list_scenarios()` (so no
input can reach another file), and an inline spec may not name a network file either
(`network.path`): over the API a network is generated (`network.generate`). Problems name
the field and the reason only; nothing of a file or of the input is quoted back.

The request handler checks here before a run is created, and the worker checks again (it
parses the same text), so a run never starts from input this module refuses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.problems import FieldProblem

if TYPE_CHECKING:
    from simulator.spec import Scenario


class ScenarioInputError(ValueError):
    """The request names no runnable scenario; `problems` says which field and why."""

    def __init__(self, detail: str, problems: list[FieldProblem]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems


def library_names() -> list[str]:
    from simulator.scenarios import list_scenarios

    return list_scenarios()


def library_entries() -> list[dict[str, object]]:
    """Each library scenario's name, description and modes (the dashboard offers a
    live-only scenario for live runs only)."""
    from simulator.scenarios import load_scenario

    entries: list[dict[str, object]] = []
    for name in library_names():
        scenario = load_scenario(name)
        entries.append(
            {"name": name, "description": scenario.description, "modes": list(scenario.modes)}
        )
    return entries


def check_compare(variants: list[dict[str, object]] | None) -> None:
    """Two variants in the scenario spec's own terms (`compare:` of a spec), or 422."""
    if variants is None:
        return
    from pydantic import ValidationError

    from simulator.spec import VariantSpec

    problems: list[FieldProblem] = []
    for i, variant in enumerate(variants):
        try:
            VariantSpec.model_validate(variant)
        except ValidationError as exc:
            problems += [
                FieldProblem(
                    field=".".join(["compare", str(i), *map(str, error["loc"])]),
                    code="invalid_variant",
                    message=error["msg"],
                )
                for error in exc.errors()
            ]
    if problems:
        raise ScenarioInputError(f"`compare` is invalid ({len(problems)} problem(s))", problems)


def check_from_live(mode: str, master_data: object) -> None:
    """A run from the live twin runs offline, on the master data the API was started with."""
    if mode != "offline":
        raise ScenarioInputError(
            "a run from the live twin runs forward offline",
            [FieldProblem(field="mode", code="mode_not_allowed", message="use offline")],
        )
    if master_data is None:
        raise ScenarioInputError(
            "this API has no master data (TWIN_MASTER_DATA) to fork the live twin on",
            [FieldProblem(field="from", code="no_master_data", message="set TWIN_MASTER_DATA")],
        )


def scenario_from_request(name: str | None, spec: str | None) -> Scenario:
    """The scenario a run request names, or `ScenarioInputError` (answered with 422)."""
    if (name is None) == (spec is None):
        raise ScenarioInputError(
            "give exactly one of `scenario` (a library name) or `spec` (inline YAML)",
            [
                FieldProblem(
                    field="scenario",
                    code="one_of",
                    message="exactly one of `scenario` or `spec` is required",
                )
            ],
        )
    if name is not None:
        return _from_library(name)
    assert spec is not None
    return _from_spec(spec)


def _from_library(name: str) -> Scenario:
    from simulator.scenarios import UnknownScenario, load_scenario

    try:
        return load_scenario(name)
    except UnknownScenario as exc:
        known = ", ".join(exc.known)
        raise ScenarioInputError(
            f"`scenario` must be a name from the library: {known}",
            [
                FieldProblem(
                    field="scenario",
                    code="unknown_scenario",
                    message=f"not a scenario of the library; one of: {known}",
                )
            ],
        ) from None


def _from_spec(spec: str) -> Scenario:
    from simulator.scenarios import ScenarioError, parse_scenario

    try:
        scenario = parse_scenario(spec)
    except ScenarioError as exc:
        problems = [
            FieldProblem(field=_spec_field(place), code="invalid_spec", message=reason)
            for place, reason in exc.problems
        ]
        raise ScenarioInputError(
            f"the inline spec is invalid ({len(problems)} problem(s))", problems
        ) from None
    if scenario.network.path is not None:
        raise ScenarioInputError(
            "an inline spec cannot name a network file",
            [
                FieldProblem(
                    field="spec.network.path",
                    code="path_not_allowed",
                    message="a scenario run over the API cannot read files; use network.generate",
                )
            ],
        )
    return scenario


def _spec_field(place: str) -> str:
    """`spec.demand.peaks.0` for a field, `spec (line 3, column 5)` for YAML syntax."""
    if place == "(top)":
        return "spec"
    if place.startswith("line "):
        return f"spec ({place})"
    return f"spec.{place}"


def check_mode(scenario: Scenario, mode: str) -> None:
    """A scenario runs only in the modes it lists (restart faults need live)."""
    if mode not in scenario.modes:
        modes = ", ".join(scenario.modes)
        raise ScenarioInputError(
            f"scenario {scenario.name!r} runs only in: {modes}",
            [FieldProblem(field="mode", code="mode_not_allowed", message=f"use one of: {modes}")],
        )
