from django.contrib import admin

from permanence.audit.admin import CallerDataAdmin
from permanence.calls.models import Call, CallEvent, Desk


class CallEventInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CallEvent
    fields = ("seq", "kind", "at", "secretary", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Call)
class CallAdmin(CallerDataAdmin):
    list_display = ("arrived_at", "account", "caller", "state", "secretary", "training", "outcome")
    list_select_related = ("account", "secretary")
    list_filter = ("state", "training", "account")
    readonly_fields = [f.name for f in Call._meta.fields]
    inlines = [CallEventInline]


@admin.register(Desk)
class DeskAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("__str__",)
    list_select_related = ("secretary",)
