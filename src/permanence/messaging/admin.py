from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from permanence import outbound, policy
from permanence.audit.admin import AuditedAdmin, CallerDataAdmin
from permanence.messaging import channels, sensitive, signing
from permanence.messaging.models import (
    Delivery,
    DeliveryEvent,
    DeliveryPreference,
    Message,
    PushSubscription,
    WebhookEndpoint,
)
from permanence.policy import Perm


class DeliveryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Delivery
    fields = ("channel", "address", "status", "attempts", "next_attempt_at", "last_error")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Message)
class MessageAdmin(CallerDataAdmin):
    list_display = ("created", "account", "subject", "urgent", "status")
    list_filter = ("status", "urgent", "account")
    inlines = [DeliveryInline]

    def get_exclude(self, request: Any, obj: Message | None = None) -> Any:
        """A message's fields holding sensitive answers are shown only to those who may read them (their
        page, audited, is the way); the others see the message without them."""
        exclude = list(super().get_exclude(request, obj) or [])
        if obj is not None and sensitive.marked(obj.fields) and not policy.has_perm(
            request.user, Perm.READ_SENSITIVE
        ):
            exclude.append("fields")
        return exclude


@admin.register(Delivery)
class DeliveryAdmin(CallerDataAdmin):
    list_display = ("message", "channel", "address", "status", "attempts", "next_attempt_at")
    list_filter = ("status", "channel")


admin.site.register(DeliveryEvent)


class WebhookEndpointForm(forms.ModelForm):  # type: ignore[type-arg]
    """The address is checked when saved, for a clear message; every delivery checks it again when
    connecting (``permanence.outbound``)."""

    class Meta:
        model = WebhookEndpoint
        fields = ["account", "url", "secret", "active"]

    def clean_url(self) -> str:
        url = str(self.cleaned_data["url"])
        if urlsplit(url).scheme not in ("http", "https"):
            raise forms.ValidationError(_("The address must start with https:// (or http://)."))
        problem = channels.address_filter().url_problem(url)
        if problem == outbound.UNKNOWN_NAME:
            raise forms.ValidationError(_("This server name is unknown."))
        if problem:
            raise forms.ValidationError(
                _("This address is on a private network; the operator must allow such addresses.")
            )
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AuditedAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "account", "active")
    readonly_fields = ("standard_secret",)

    @admin.display(description=_("secret for a Standard Webhooks verifier"))
    def standard_secret(self, obj: WebhookEndpoint) -> str:
        """What the receiver configures in a ready-made verifier (the same secret, as whsec_…)."""
        return signing.standard_secret(obj.secret) if obj.pk and obj.secret else "—"


@admin.register(DeliveryPreference)
class DeliveryPreferenceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("collaborator", "normal_email", "normal_sms", "normal_push", "urgent_email", "urgent_sms",
                    "urgent_push", "digest")
    list_filter = ("digest", "collaborator__account")
    raw_id_fields = ("collaborator",)


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Browsers subscribed to notifications: read, or removed (the browser subscribes again from the app)."""

    list_display = ("user", "user_agent", "created_at", "last_used_at")
    search_fields = ("user__username", "user__email")
    readonly_fields = ("user", "endpoint", "p256dh", "auth", "user_agent", "created_at", "last_used_at")

    def has_add_permission(self, request: Any) -> bool:
        return False
