"""The core's compiled build (mypyc, setup.py): used when installed, never stale, optional."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import twin.position
import twin.shard
from twin._compiled import _SUFFIX, compiled_modules, guard, pure_requested, running_compiled


def test_the_installed_core_runs_compiled_unless_told_otherwise() -> None:
    # `pip install -e .` compiles the hot path; a build that silently fell back to Python
    # would leave the core several times slower than it claims (bench/core_apply.py)
    expected = not pure_requested()
    assert running_compiled(twin.position) is expected
    assert running_compiled(twin.shard) is expected


def test_twin_pure_loads_the_core_from_its_source() -> None:
    code = "import twin.position, twin.shard; print(twin.position.__file__, twin.shard.__file__)"
    env = {**os.environ, "TWIN_PURE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert [Path(p).name for p in out] == ["position.py", "shard.py"]


def _package(tmp_path: Path, *, checkout: bool, source_newer: bool) -> Path:
    package = tmp_path / "pkg"
    package.mkdir(parents=True)
    build, source = package / f"mod{_SUFFIX}", package / "mod.py"
    build.write_bytes(b"")
    source.write_text("")
    built_at, edited_at = 1_700_000_000, 1_700_000_100
    if not source_newer:
        built_at, edited_at = edited_at, built_at
    os.utime(build, (built_at, built_at))
    os.utime(source, (edited_at, edited_at))
    if checkout:
        (tmp_path / "setup.py").write_text("")
    return package


def test_a_build_older_than_its_source_is_refused_in_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWIN_PURE", raising=False)
    package = _package(tmp_path, checkout=True, source_newer=True)
    assert list(compiled_modules(package)) == ["mod"]
    with pytest.raises(ImportError, match=r"mod\.py changed after it was compiled"):
        guard("pkg", str(package))


def test_a_fresh_build_or_an_installed_wheel_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWIN_PURE", raising=False)
    guard("pkg", str(_package(tmp_path / "a", checkout=True, source_newer=False)))
    # installed from a wheel: no setup.py beside the package, mtimes mean nothing there
    guard("pkg", str(_package(tmp_path / "b", checkout=False, source_newer=True)))
