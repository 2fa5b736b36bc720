"""The API's base serializer: text fields refuse what the model's validators and the databases
cannot take, before any validator runs."""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers


class TextField(serializers.CharField):
    """A CharField that refuses NUL and lone surrogate characters before any validator runs: the
    model's validators encode the text (a surrogate would raise there) and databases refuse both."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        for char in value:
            if char == "\x00" or "\ud800" <= char <= "\udfff":
                raise serializers.ValidationError(
                    f"The text may not contain the character U+{ord(char):04X}.", code="invalid_character"
                )
        return value


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: TextField,
        models.TextField: TextField,
    }
