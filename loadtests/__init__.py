"""Locust load tests of the twin API: ingest, reads and WebSocket subscribers.

Run headless with pass/fail thresholds through `invtwin loadtest`, or directly:
`locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 --viewer-token … --ingest-token …`.
"""
