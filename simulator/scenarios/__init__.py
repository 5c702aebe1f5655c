"""The scenario library and its loader: `load_scenario("peak")` or a path to a YAML file.

Errors name the file and list every problem with its place in the YAML, so an architect can
fix a scenario without reading code (`simulator/scenarios/README.md` documents the fields).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from simulator.spec import Scenario

LIBRARY = Path(__file__).resolve().parent


class ScenarioError(ValueError):
    """A scenario cannot be found, read or validated; the message lists every problem."""


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios (the YAML files next to this module), sorted."""
    return sorted(p.stem for p in LIBRARY.glob("*.yaml"))


def parse_scenario(yaml_text: str, *, origin: str = "<inline>") -> Scenario:
    """Validate a scenario given as YAML text; raise `ScenarioError` listing every problem."""
    try:
        data = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ScenarioError(f"{origin}: a scenario is a mapping of fields, got {kind}")
    data.setdefault("name", Path(origin).stem if origin != "<inline>" else "inline")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"  {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ScenarioError(f"{origin}: invalid scenario:\n" + "\n".join(problems)) from exc


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (`peak`), or any scenario file by path."""
    text_name = str(name_or_path)
    path = Path(text_name)
    if not path.suffix and (LIBRARY / f"{text_name}.yaml").exists():
        path = LIBRARY / f"{text_name}.yaml"
    if not path.exists():
        known = ", ".join(list_scenarios())
        raise ScenarioError(f"no scenario {text_name!r}: not a file, and not one of: {known}")
    return parse_scenario(path.read_text(encoding="utf-8"), origin=str(path))
