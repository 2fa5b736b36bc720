from django.apps import AppConfig


class MqttConfig(AppConfig):
    name = "apps.mqtt"
    label = "mqtt"
    verbose_name = "MQTT monitoring"
