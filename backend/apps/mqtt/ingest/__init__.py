"""The batch writer's work: parsed messages and connection events → the database in one transaction
with a fixed number of statements, whatever the number of heartbeats and sensors → a change set.

- ``items``: what the client tasks enqueue (``HeartbeatItem``, ``SysInfoItem``, ``RejectedItem``,
  ``ConnectionEvent``).
- ``batch``: ``write_batch``, the flush: one transaction, each kind of item written by its module
  (``events``, ``heartbeats`` with ``devices``, ``sys_info``, ``rejections``).
- ``changes``: ``ChangeSet``, what one flush changed per site (the seam for the broadcast).
- ``policy``: ``IngestPolicy`` (ring size, misses before offline, stale threshold, sensors per site),
  the sensor states.
- ``sql``: the bulk statements (SQLite ``executemany``, PostgreSQL one statement over a JSON document
  of rows) and the datetime adapters for raw SQL.

Reads use the ORM or one raw ``SELECT`` per kind; writes use parameterised ``INSERT ... ON CONFLICT``
/ ``UPDATE`` through Django's connection, which SQLite and PostgreSQL both run, and which costs a
fraction of the ORM's per-object work.
"""
