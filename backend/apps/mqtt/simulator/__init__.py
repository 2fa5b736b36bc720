"""A simulator of datalogger sites: realistic heartbeats and sys_info over MQTT, with faults.

Pure (time in, bytes out), so tests of the worker can build every payload variant without a broker:
``payloads`` (a site's heartbeats and sys_info, ``SiteSimulator``) built from ``formats`` (variants,
topics, reading keys, timestamps), ``noise`` (device names, reading noise), ``faults`` (what a site
gets wrong) and ``malformed`` (broken payloads). ``runner`` is the asyncio loop that publishes them
for ``manage.py simulate_sites``; ``embedded_broker`` the demo's MQTT broker.
"""
