from django.contrib import admin

from permanence.directory.models import Absence, Collaborator, Service, TransferWindow


class TransferWindowInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TransferWindow
    extra = 0


class AbsenceInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Absence
    fk_name = "collaborator"
    extra = 0


@admin.register(Collaborator)
class CollaboratorAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["__str__", "account", "service", "job_title", "transfer_mode", "is_active"]
    list_filter = ["transfer_mode", "is_active", "account"]
    search_fields = ["last_name", "first_name", "specialties", "keywords", "account__name"]
    autocomplete_fields = ["account"]
    inlines = [TransferWindowInline, AbsenceInline]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "account"]
    search_fields = ["name", "account__name"]
    autocomplete_fields = ["account"]
