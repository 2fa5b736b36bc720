"""Admin of the alert rules and channels (staff). Secrets (the webhook's, the Apprise URL) are
write-only: a blank field keeps the stored value, and the page only says whether one is stored."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apps.alerts.dispatch import send_test
from apps.alerts.models import Alert, AlertRule, Notification, NotificationChannel


class NotificationChannelForm(forms.ModelForm):
    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Webhook: the URL that receives a signed JSON POST.",
    )
    new_secret = forms.CharField(
        label="Webhook secret",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Signs each request (X-Signature-SHA256). Leave blank to keep the stored one.",
    )
    new_apprise_url = forms.CharField(
        label="Apprise URL",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="e.g. slack://…, tgram://…, msteams://… (it holds the service's tokens: stored "
        "encrypted, never shown). Leave blank to keep the stored one.",
    )

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "enabled", "email_addresses", "webhook_url"]

    def clean(self) -> dict[str, Any]:
        # Onto the instance before the model's clean() (which runs after this) checks they are there.
        cleaned = super().clean() or {}
        if cleaned.get("new_secret"):
            self.instance.set_secret(cleaned["new_secret"])
        if cleaned.get("new_apprise_url"):
            self.instance.set_apprise_url(cleaned["new_apprise_url"])
        return cleaned


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    form = NotificationChannelForm
    list_display = ["name", "kind", "enabled", "secret_state"]
    list_filter = ["kind", "enabled"]
    readonly_fields = ["secret_state"]
    actions = ["send_test_notification"]
    fields = [
        "name",
        "kind",
        "enabled",
        "email_addresses",
        "webhook_url",
        "new_secret",
        "new_apprise_url",
        "secret_state",
    ]

    @admin.display(description="Secret")
    def secret_state(self, obj: NotificationChannel) -> str:
        if obj.kind == NotificationChannel.ChannelKind.WEBHOOK:
            return "stored (encrypted)" if obj.has_secret else "none"
        if obj.kind == NotificationChannel.ChannelKind.APPRISE:
            return "URL stored (encrypted)" if obj.has_apprise_url else "none"
        return "—"

    @admin.action(description="Send a test notification")
    def send_test_notification(self, request: HttpRequest, queryset: QuerySet[NotificationChannel]) -> None:
        for channel in queryset:
            result = send_test(channel, now=timezone.now())
            if result.status == Notification.Status.SENT:
                self.message_user(request, f"{channel.name}: test notification sent.", messages.SUCCESS)
            else:
                self.message_user(request, f"{channel.name}: {result.last_error}", messages.ERROR)


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "severity", "for_seconds", "scope", "enabled"]
    list_filter = ["kind", "severity", "enabled"]
    filter_horizontal = ["channels"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "severity", "enabled"]}),
        ("When", {"fields": ["for_seconds", "flap_changes", "flap_minutes"]}),
        ("Scope (neither: every site)", {"fields": ["customer", "site"]}),
        ("Notify", {"fields": ["channels", "notify_recovery"]}),
    ]

    @admin.display(description="Scope")
    def scope(self, obj: AlertRule) -> str:
        if obj.site_id:
            return f"site {obj.site}"
        return f"customer {obj.customer}" if obj.customer_id else "every site"


class NotificationInline(admin.TabularInline):
    model = Notification
    extra = 0
    can_delete = False
    fields = ("channel", "event", "status", "attempts", "last_error", "sent_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "severity", "state", "opened_at", "resolved_at", "in_maintenance"]
    list_filter = ["state", "kind", "severity", "in_maintenance"]
    search_fields = ["title", "site__code", "site__name"]
    date_hierarchy = "opened_at"
    inlines = [NotificationInline]
    list_select_related = ["site"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
