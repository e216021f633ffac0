from django.contrib import admin

from permanence.messaging.models import Delivery, DeliveryEvent, DeliveryPreference, Message, WebhookEndpoint


class DeliveryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Delivery
    fields = ("channel", "address", "status", "attempts", "next_attempt_at", "last_error")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created", "account", "subject", "urgent", "status")
    list_filter = ("status", "urgent", "account")
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("message", "channel", "address", "status", "attempts", "next_attempt_at")
    list_filter = ("status", "channel")


admin.site.register(DeliveryEvent)
admin.site.register(WebhookEndpoint)


@admin.register(DeliveryPreference)
class DeliveryPreferenceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("collaborator", "normal_email", "normal_sms", "urgent_email", "urgent_sms", "digest")
    list_filter = ("digest", "collaborator__account")
    raw_id_fields = ("collaborator",)
