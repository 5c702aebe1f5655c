"""The pure domain core of Inventory Twin: events, master data, positions, rules, windows.

Nothing in this package imports Kafka, Bytewax, SimPy or FastAPI; everything else calls it.

Its per-event path (the modules `setup.py` lists) is also compiled by mypyc at install time:
the same source, as a C extension. Two rules keep that honest, enforced here on import:

* a compiled module older than its source is refused, so an edit never runs as the stale
  build of the code before it (rebuild: `make setup`, or `pip install -e .`);
* with `TWIN_PURE=1` in the environment every module loads from its source, compiled or
  not: the tests run the core both ways, and `bench/core_apply.py` measures both.
"""

from twin._compiled import guard

guard(__name__, __path__[0])
