"""The REST API (Django REST framework) under /api/: sites, sensors, connections, logs, system info.

Every queryset comes from ``apps.mqtt.selectors`` (which filters by the sites the user may see);
writes go through the models' validation and ``apps.mqtt.services``.
"""
