"""Real time: what the worker commits reaches the browsers.

- ``broadcast``: a flush's change set → channel-layer events (one of each kind per site per flush),
  and the nudge to the worker; the one module that knows the group names.
- ``consumers``: the WebSockets ``/ws/mqtt/status/`` and ``/ws/mqtt/site/<id>/`` (session
  authenticated, 4401 / 4403), forwarding the events' ready frames.
- ``snapshots``: a site's state on connect, which the deltas then keep current.
- ``layers``: the in-process channel layer of the single-process shape (channels' in-memory one,
  its expiry sweep throttled).
- ``routing``: the WebSocket URL patterns (``config/asgi.py``).

The sensor shape shared by the deltas, the snapshot and the API is ``apps/mqtt/sensor_shape.py``.
"""
