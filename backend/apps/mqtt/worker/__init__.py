"""The MQTT worker's runtime (``manage.py run_mqtt``, or the web server's lifespan in single-process
mode).

- ``runtime``: ``MqttWorker``, the whole worker in one event loop: writer threads, supervisor,
  broadcasts after commit, operators' nudges, the worker's own heartbeat row.
- ``lifespan``: the ASGI lifespan that runs the worker inside the web server.
- ``supervisor``: one client task per enabled connection, reconciled with the database.
- ``client``: one connection's MQTT client: connect, subscribe, parse, enqueue, reconnect.
- ``config``: the connections' configurations as the clients need them, and TLS contexts.
- ``backoff``: reconnect delays and what a failure means.
- ``writer``: the writer threads (``IngestWriter``, ``ShardedWriter``): the queue, the batches,
  retries, the liveness sweep.
- ``liveness``: the sweep: heartbeats late or missing, sensors offline with their site.
"""
