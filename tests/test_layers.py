"""Imports point one way, toward the core: no layer imports a layer above it.

`twin/` (the domain core) and `infra/` (broker, topics, clock) are the ground floor; the
flows and the simulator build on them; the API on those (it runs scenarios); the CLI, load
tests and benchmarks on top. `tests/twin/test_purity.py` checks the core imports no
infrastructure library; this checks the project's own packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each layer may import of the project's packages (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "twin": frozenset(),
    "infra": frozenset(),
    "dataflows": frozenset({"twin", "infra"}),
    "simulator": frozenset({"twin", "infra"}),
    # the history store and its consumer: beside the flows, read by the API
    "history": frozenset({"twin", "infra"}),
    "api": frozenset({"twin", "infra", "simulator", "history"}),
    "loadtests": frozenset({"twin", "infra"}),
    "cli": frozenset({"twin", "infra", "dataflows", "simulator", "api", "loadtests", "history"}),
    # benchmarks sit on top, beside the CLI: they time what the CLI runs
    "bench": frozenset({"twin", "infra", "dataflows", "simulator", "api", "cli", "history"}),
}


def project_imports(path: Path) -> set[str]:
    """The project packages a module imports (absolute imports, anywhere in the file)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_module_of_a_layer_imports_a_layer_above_it(layer: str) -> None:
    upward = {
        str(path.relative_to(ROOT)): sorted(project_imports(path) - ALLOWED[layer] - {layer})
        for path in sorted((ROOT / layer).rglob("*.py"))
    }
    assert {module: names for module, names in upward.items() if names} == {}


def test_the_scan_sees_an_upward_import_even_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text(
        "import twin.events\n"
        "def later():\n"
        "    from api.app import create_app\n"
        "    import dataflows.twin as flow\n"
        "from . import sibling\n"
    )
    assert project_imports(module) - ALLOWED["simulator"] == {"api", "dataflows"}
