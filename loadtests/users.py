"""Locust HTTP users: integration feeds posting events, and operators reading the twin."""

from __future__ import annotations

import random
from typing import Any

import gevent
from locust import FastHttpUser, User, between, task

from loadtests.catalog import Catalog, EventFactory
from loadtests.stack_clock import stack_clock_of


def catalog_of(user: User) -> Catalog:
    """The catalog, loaded once per Locust process and kept on the environment.

    From `--catalog` (JSON, `invtwin loadtest` writes it) when given: parsing master data
    YAML holds the interpreter for seconds in C code, and a distributed worker that stops
    answering that long misses its heartbeats and is dropped by the master. Otherwise parsed
    from `--master-data` in a native thread (enough for a single process); users that start
    meanwhile wait for it.
    """
    environment = user.environment
    loading = getattr(environment, "twin_catalog", None)
    if loading is None:
        options = environment.parsed_options
        if options.catalog:
            loading = gevent.spawn(Catalog.load_saved, options.catalog)
        else:
            loading = gevent.get_hub().threadpool.spawn(Catalog.load, options.master_data)
        environment.twin_catalog = loading
    catalog: Catalog = loading.get()
    return catalog


def _expect(response: Any, statuses: tuple[int, ...]) -> None:
    """Mark the response as a success or failure by its status (overrides Locust's default)."""
    if response.status_code in statuses:
        response.success()
    else:
        response.failure(f"status {response.status_code}: {(response.text or '')[:200]}")


class IngestUser(FastHttpUser):
    """A WMS or middleware feed: single events with an Idempotency-Key, and batches."""

    weight = 2
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.auth = {"Authorization": f"Bearer {options.ingest_token}"}
        # stamped on the stack's clock, as the API judges the horizon on it
        self.events = EventFactory(catalog_of(self), random.Random(), stack_clock_of(self))
        self.batch_size = options.batch_size

    @task(4)
    def post_one(self) -> None:
        event_id, body = self.events.encode_one()
        self._post(body, "/v1/events (one)", (202,), idempotency_key=event_id)

    @task(1)
    def post_batch(self) -> None:
        body = self.events.encode_batch(self.batch_size)
        self._post(body, "/v1/events (batch)", (202,))

    @task(1)
    def replay_same_key(self) -> None:
        """A retried POST with the same Idempotency-Key must be accepted, not duplicated."""
        event_id, body = self.events.encode_one()
        for attempt in ("first", "retry"):
            name = f"/v1/events (idempotent {attempt})"
            self._post(body, name, (200, 202), idempotency_key=event_id)

    def _post(
        self, body: bytes, name: str, ok: tuple[int, ...], idempotency_key: str | None = None
    ) -> None:
        headers = {**self.auth, "Content-Type": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        with self.client.post(
            "/v1/events", data=body, headers=headers, name=name, catch_response=True
        ) as response:
            _expect(response, ok)


class ReaderUser(FastHttpUser):
    """A control-tower operator's page: positions, sites, the network and alerts."""

    weight = 3
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.auth = {"Authorization": f"Bearer {self.environment.parsed_options.viewer_token}"}
        self.catalog = catalog_of(self)
        self.rng = random.Random()

    def _get(self, path: str, name: str) -> None:
        with self.client.get(path, headers=self.auth, name=name, catch_response=True) as response:
            # A SKU nothing has touched yet may be unknown to the twin: that is an answer.
            _expect(response, (200, 404))

    @task(5)
    def sku(self) -> None:
        self._get(f"/v1/skus/{self.rng.choice(self.catalog.sku_ids())}", "/v1/skus/[sku]")

    @task(2)
    def site(self) -> None:
        self._get(f"/v1/sites/{self.rng.choice(self.catalog.all_sites)}", "/v1/sites/[site]")

    @task(2)
    def network(self) -> None:
        self._get("/v1/network", "/v1/network")

    @task(1)
    def alerts(self) -> None:
        self._get(f"/v1/alerts?site={self.rng.choice(self.catalog.all_sites)}", "/v1/alerts?site=")

    @task(1)
    def search(self) -> None:
        prefix = self.rng.choice(self.catalog.sku_ids())[:-2]
        self._get(f"/v1/skus?prefix={prefix}&limit=20", "/v1/skus?prefix=")
