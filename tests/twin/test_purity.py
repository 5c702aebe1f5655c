"""`twin/` is the pure core: it must not import Kafka, Bytewax, SimPy, FastAPI or a web server."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import twin

FORBIDDEN = ("confluent_kafka", "kafka", "bytewax", "simpy", "fastapi", "starlette", "uvicorn")
TWIN_DIR = Path(twin.__file__).parent


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_twin_module_imports_an_infrastructure_library() -> None:
    offenders = {
        str(path.relative_to(TWIN_DIR)): sorted(_top_level_imports(path) & set(FORBIDDEN))
        for path in sorted(TWIN_DIR.rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_twin_module_loads_none_of_them_even_indirectly() -> None:
    modules = sorted(
        ".".join(("twin", *p.relative_to(TWIN_DIR).with_suffix("").parts)).removesuffix(".__init__")
        for p in TWIN_DIR.rglob("*.py")
    )
    script = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""


def test_the_import_scan_sees_plain_dotted_and_from_imports(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text(
        "import bytewax.operators as op\nfrom confluent_kafka import Producer\n"
        "from . import sibling\nimport msgspec\n"
    )
    assert _top_level_imports(module) & set(FORBIDDEN) == {"bytewax", "confluent_kafka"}
