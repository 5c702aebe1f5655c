"""The `invtwin` command line: broker, flows, API, simulator, demo, load tests."""
