"""The history store: every canonical event and every published position, kept in an
embedded SQLite database for a retention window, fed by its own Kafka consumer.

`history.store.HistoryStore` owns the database (rows and consumer offsets in one
transaction), `history.consumer.HistoryConsumer` feeds it from Kafka, `history.ledger`
explains a SKU-site's position from its events with the core's own bucket rules.
"""
