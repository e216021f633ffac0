from django.contrib import admin

from permanence.agenda.models import (
    Appointment,
    AppointmentType,
    AvailabilityException,
    CalendarFeed,
    WorkingHours,
)


@admin.register(AppointmentType)
class AppointmentTypeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
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
class AppointmentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("start", "collaborator", "appointment_type", "caller_name", "status", "source")
    list_filter = ("status", "source", "account")
    readonly_fields = ("blocked_from", "blocked_until", "uid", "sequence", "created", "updated")


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("collaborator", "created", "revoked_at")
    readonly_fields = ("token", "created")
    raw_id_fields = ("collaborator",)
