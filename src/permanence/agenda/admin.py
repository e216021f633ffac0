from django.contrib import admin

from permanence.agenda.models import (
    Appointment,
    AppointmentType,
    AvailabilityException,
    CalendarFeed,
    CalendarLink,
    SyncIssue,
    WorkingHours,
)
from permanence.audit.admin import AuditedAdmin, CallerDataAdmin


@admin.register(AppointmentType)
class AppointmentTypeAdmin(AuditedAdmin):
    list_display = (
        "name",
        "account",
        "duration_minutes",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "is_active",
    )
    list_filter = ("account", "is_active")
    filter_horizontal = ("collaborators",)


@admin.register(WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("collaborator", "weekday", "start", "end")
    list_filter = ("collaborator__account",)


@admin.register(AvailabilityException)
class AvailabilityExceptionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("collaborator", "start_date", "end_date", "ranges", "label")
    list_filter = ("collaborator__account",)


@admin.register(Appointment)
class AppointmentAdmin(CallerDataAdmin):
    list_display = ("start", "collaborator", "appointment_type", "caller_name", "status", "source")
    list_select_related = ("collaborator", "appointment_type")
    list_filter = ("status", "source", "account")
    readonly_fields = ("blocked_from", "blocked_until", "uid", "sequence", "created", "updated")


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("collaborator", "created", "revoked_at")
    readonly_fields = ("token", "created")
    raw_id_fields = ("collaborator",)


@admin.register(CalendarLink)
class CalendarLinkAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The password is set from the agenda page (stored encrypted), never shown here."""

    list_display = ("collaborator", "url", "is_active", "last_sync_at", "failures", "last_error")
    list_filter = ("is_active", "collaborator__account")
    fields = (
        "collaborator",
        "kind",
        "url",
        "username",
        "is_active",
        "last_sync_at",
        "last_error",
        "failures",
    )
    readonly_fields = ("last_sync_at", "last_error", "failures")
    raw_id_fields = ("collaborator",)


@admin.register(SyncIssue)
class SyncIssueAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created", "link", "kind", "appointment", "resolved_at")
    list_select_related = ("link__collaborator", "appointment__collaborator")
    list_filter = ("kind", "link__collaborator__account")
    raw_id_fields = ("link", "appointment", "resolved_by")
