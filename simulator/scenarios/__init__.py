"""The scenario library and its loaders: `load_scenario("peak")` takes a library name only.

A name is one of `list_scenarios()` (the YAML files shipped next to this module), never a
path: a name cannot reach another file, so a caller that passes on untrusted input (the
API) cannot make the simulator read one. `load_scenario_file(path)` is the separate,
explicit loader for a scenario file on this machine (the CLI's `--scenario-file`), and
`parse_scenario(text)` validates a scenario given inline.

Errors list every problem with its place (a field path such as `demand.peaks.0.multiplier`,
or a line and column for YAML syntax) and the reason, never the text around it: what is
wrong and where, so an architect can fix a scenario without the error quoting it back
(`simulator/scenarios/README.md` documents the fields).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from simulator.spec import Scenario

LIBRARY = Path(__file__).resolve().parent


class ScenarioError(ValueError):
    """A scenario cannot be found, read or validated; the message lists every problem.

    `problems` holds the same as `(place, reason)` pairs: a field path (`demand.peaks.0`),
    `line 3, column 5` for YAML syntax, or `(top)`.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases: `*name` could make a short text validate as a huge tree."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a scenario", event.start_mark
            )
        return super().compose_node(parent, index)


class UnknownScenario(ScenarioError):
    """A name that is not in the shipped library; `known` lists the names that are."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.known = known
        super().__init__(f"no scenario named {name!r} in the library: {', '.join(known)}")


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios (the YAML files next to this module), sorted."""
    return sorted(p.stem for p in LIBRARY.glob("*.yaml"))


def _yaml_problem(exc: yaml.YAMLError) -> tuple[str, str]:
    """Where and why YAML parsing failed, without the snippet of text PyYAML quotes."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "cannot be parsed"
    place = "(top)" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}"
    return place, f"not valid YAML: {problem}"


def parse_scenario(yaml_text: str, *, origin: str = "<inline>") -> Scenario:
    """Validate a scenario given as YAML text; raise `ScenarioError` listing every problem."""
    try:
        data = yaml.load(yaml_text, Loader=_NoAliasLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        place, reason = _yaml_problem(exc)
        raise ScenarioError(f"{origin}: {place}: {reason}", [(place, reason)]) from None
    if not isinstance(data, dict):
        reason = f"a scenario is a mapping of fields, got {type(data).__name__}"
        raise ScenarioError(f"{origin}: {reason}", [("(top)", reason)])
    data.setdefault("name", Path(origin).stem if origin != "<inline>" else "inline")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        # `msg` is the reason; the offending input (`err["input"]`) is left out on purpose.
        problems = [
            (".".join(str(p) for p in err["loc"]) or "(top)", err["msg"]) for err in exc.errors()
        ]
        listing = "\n".join(f"  {place}: {reason}" for place, reason in problems)
        raise ScenarioError(f"{origin}: invalid scenario:\n{listing}", problems) from None


def load_scenario(name: str) -> Scenario:
    """A shipped scenario by its library name (`peak`); any other name is `UnknownScenario`."""
    known = list_scenarios()
    if name not in known:
        raise UnknownScenario(name, known)
    path = LIBRARY / f"{name}.yaml"
    return parse_scenario(path.read_text(encoding="utf-8"), origin=name)


def load_scenario_file(path: str | Path) -> Scenario:
    """A scenario from a file on this machine, named explicitly by its operator (the CLI)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such scenario file")
    return parse_scenario(path.read_text(encoding="utf-8"), origin=str(path))


def load_scenario_arg(value: str) -> Scenario:
    """The CLI's `--scenario`: a library name, or a path to a `.yaml`/`.yml` file.

    Only for a person at the command line, who may read any file they name anyway; the API
    takes names (`load_scenario`) or inline specs (`parse_scenario`), never this.
    """
    if Path(value).suffix in (".yaml", ".yml"):
        return load_scenario_file(value)
    return load_scenario(value)
