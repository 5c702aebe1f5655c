"""Which of the core's modules run compiled (mypyc, see setup.py), and never a stale build.

What the compiled modules' source must do for it (`twin/position.py`, `twin/shard.py`):

* module constants read per event are `Final`: compiled, any other global is a dictionary
  lookup on every use, a `Final` one a C static;
* every class that is pickled (snapshots) carries `@mypyc_attr(serializable=True,
  allow_interpreted_subclasses=True)`: without `serializable` it does not pickle, and mypyc
  2.4.1 skips the `__init__` of a serializable class built from Python unless it also allows
  interpreted subclasses;
* frozen dataclasses are `@mypyc_attr(native_class=False)`, plain Python classes, which pickle
  as dataclasses do;
* a compiled class has no `__slots__` attribute; its attribute names are in `__mypyc_attrs__`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]  # e.g. .cpython-311-x86_64-linux-gnu.so


def compiled_modules(package_dir: str | Path) -> dict[str, Path]:
    """The modules of a package directory that have a compiled build, with that build."""
    return {
        path.name[: -len(_SUFFIX)]: path for path in sorted(Path(package_dir).glob(f"*{_SUFFIX}"))
    }


def pure_requested() -> bool:
    return os.environ.get("TWIN_PURE") == "1"


def running_compiled(module: ModuleType) -> bool:
    """True when `module` was loaded from a compiled build rather than from its source."""
    return str(getattr(module, "__file__", "")).endswith(_SUFFIX)


class _FromSource(importlib.abc.MetaPathFinder):
    """Loads the listed modules from their `.py` source although a compiled build is there."""

    def __init__(self, package: str, sources: dict[str, Path]) -> None:
        self.package = package
        self.sources = sources

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        source = self.sources.get(name)
        if package != self.package or source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def guard(package: str, package_dir: str) -> None:
    """Refuse stale builds of `package`'s modules; honour TWIN_PURE=1 (see `twin/__init__`)."""
    builds = compiled_modules(package_dir)
    if not builds:
        return
    # Only a source checkout (built in place by `pip install -e .`) can hold a stale build;
    # an installed wheel writes its files in no particular order, so mtimes say nothing there.
    checkout = (Path(package_dir).parent / "setup.py").exists()
    sources = {name: Path(package_dir) / f"{name}.py" for name in builds}
    if pure_requested():
        sys.meta_path.insert(0, _FromSource(package, sources))
        return
    stale = [
        name
        for name, build in builds.items()
        if checkout
        and sources[name].exists()
        and sources[name].stat().st_mtime > build.stat().st_mtime
    ]
    if stale:
        raise ImportError(
            f"{package}: {', '.join(f'{name}.py' for name in stale)} changed after it was "
            "compiled; rebuild with `make setup` (or `pip install -e .`), or set TWIN_PURE=1 "
            "to run the core from its source"
        )
