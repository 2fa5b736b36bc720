from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from apps.sites.models import Customer, MaintenanceWindow, Site

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _SiteTotal(TypedDict):
    site_total: int


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "site_count", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    filter_horizontal = ["members"]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return super().get_queryset(request).annotate(site_total=Count("sites"))

    @admin.display(description="sites", ordering="site_total")
    def site_count(self, obj: WithAnnotations[Customer, _SiteTotal]) -> int:
        return obj.site_total


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "customer", "time_zone", "is_active", "connection_status"]
    list_filter = ["is_active", "customer"]
    search_fields = ["name", "code"]
    list_select_related = ["customer", "mqtt_connection"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = (
        (None, {"fields": ("name", "code", "customer", "time_zone", "is_active")}),
        ("History", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    @admin.display(description="MQTT status")
    def connection_status(self, obj: Site) -> str:
        connection = getattr(obj, "mqtt_connection", None)
        return connection.get_status_display() if connection else "no connection"


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["site", "starts_at", "ends_at", "reason", "created_by"]
    list_filter = ["site"]
    search_fields = ["site__name", "site__code", "reason"]
    date_hierarchy = "starts_at"
    list_select_related = ["site", "created_by"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: MaintenanceWindow, form: Any, change: bool) -> None:
        if not change and isinstance(request.user, User):
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
