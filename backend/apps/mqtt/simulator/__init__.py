"""A simulator of datalogger sites: realistic heartbeats and sys_info over MQTT, with faults.

``payloads`` is pure (topic + time → bytes) so tests of the worker can build every payload variant
without a broker; ``runner`` is the asyncio loop that publishes them for ``manage.py simulate_sites``.
"""
