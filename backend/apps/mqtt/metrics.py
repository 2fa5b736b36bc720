"""Prometheus metrics of the MQTT worker and the ingest path (exposed at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_RECEIVED = Counter("mqtt_messages_received_total", "MQTT messages received by the worker", ["kind"])
MESSAGES_REJECTED = Counter("mqtt_messages_rejected_total", "Messages the parser could not use", ["reason"])
ITEMS_REJECTED = Counter(
    "mqtt_message_items_rejected_total",
    "Parts of messages (a sensor, a field) the parser rejected while using the rest",
    ["reason"],
)
READINGS_STORED = Counter("ingest_readings_stored_total", "Sensor readings written to the ring")
READINGS_REPEATED = Counter(
    "ingest_readings_repeated_total", "Readings whose ts equals the newest stored one (not stored again)"
)
READINGS_REPLAYED = Counter(
    "ingest_readings_replayed_total",
    "Readings older than the sensor's newest stored one (a replayed buffer): counted, not stored",
)
FLUSH_SECONDS = Histogram(
    "ingest_flush_seconds",
    "Duration of one batch write (one transaction)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
QUEUE_DEPTH = Gauge("ingest_queue_depth", "Messages waiting for the batch writer")
DROPPED = Counter(
    "ingest_dropped_total",
    "Items dropped before writing, by reason: superseded (a newer heartbeat of the site took its place),"
    " over_bytes (the oldest heartbeat of the site holding most of MQTT_QUEUE_MAX_BYTES), queue_full,"
    " rejection_queue_full, site_backlog (a payload of a site over its share, dropped unparsed),"
    " client_backlog (the oldest message a connection's client held, over MQTT_CLIENT_QUEUE_MESSAGES)",
    ["reason"],
)
BROADCAST_CHANGES_MERGED = Counter(
    "broadcast_changes_merged_total",
    "Committed change sets merged into the one waiting for the real-time broadcast (it fell behind)",
)
SPOOLED = Counter(
    "ingest_spooled_items_total",
    "Items a worker stopped while the database was away saved to its spool file (MQTT_SPOOL_DIR)",
)
UNSPOOLED = Counter(
    "ingest_unspooled_items_total", "Spooled items a starting worker read back and put first in its queue"
)
WRITE_ERRORS = Counter("ingest_write_errors_total", "Failed batch writes (retried or bisected)", ["kind"])
CONNECTIONS = Gauge("mqtt_connections", "This worker's MQTT clients by observed status", ["status"])
WEBSOCKET_CLIENTS = Gauge("websocket_clients", "Open WebSocket connections", ["kind"])
LEASES_HELD = Gauge(
    "mqtt_leases_held", "Connection leases this worker holds (SQLite: the install's, as its count)"
)
FENCED_WRITES = Counter(
    "ingest_fenced_writes_total",
    "Connection events (status, log) skipped: written under a lease token that is no longer the lease's",
)
WORKER_PEERS = Gauge("mqtt_worker_peers", "Other live workers on this database (from their heartbeats)")
