"""The pure domain core of Inventory Twin: events, master data, positions, rules, windows.

Nothing in this package imports Kafka, Bytewax, SimPy or FastAPI; everything else calls it.
"""
