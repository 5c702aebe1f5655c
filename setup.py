"""Compiles the twin core's hot path with mypyc; everything else is in pyproject.toml.

The modules below are plain, type-checked Python (`twin/` passes `mypy --strict`), and stay
the reference: mypyc turns the same source into a C extension that runs the per-event path
(decode, dedupe, buckets, rules check) in a fraction of the interpreter's instructions
(bench/core_apply.py measures both). Set TWIN_PURE=1 to install without compiling: every
module then runs as the Python it is, only slower. A compiled module older than its source
is refused at import (`twin/__init__.py`), so an edit is never shadowed by a stale build.
"""

from __future__ import annotations

import os

from setuptools import setup

# The per-event path of the twin dataflow; each must type-check strictly and is covered by
# the same tests compiled or not.
COMPILED = ["twin/position.py", "twin/shard.py"]


def ext_modules() -> list[object]:
    if os.environ.get("TWIN_PURE") == "1":
        return []
    from mypyc.build import mypycify  # a build requirement (pyproject.toml)

    return list(mypycify(COMPILED, opt_level="3"))


setup(ext_modules=ext_modules())
