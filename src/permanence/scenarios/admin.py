from django.contrib import admin

from permanence.audit.admin import AuditedAdmin
from permanence.scenarios.models import Block, Comment, Remark, Scenario, ScenarioVersion


class VersionInline(admin.TabularInline):
    model = ScenarioVersion
    fields = ("number", "status", "errors", "warnings", "author", "updated")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "entry", "created")
    list_filter = ("account", "entry")
    search_fields = ("name", "account__name")
    inlines = [VersionInline]


@admin.register(ScenarioVersion)
class ScenarioVersionAdmin(admin.ModelAdmin):
    list_display = ("scenario", "number", "entry", "status", "errors", "warnings", "updated")
    list_filter = ("status", "entry")
    readonly_fields = ("account", "entry", "digest", "errors", "warnings", "created", "updated", "sent_at",
                       "approved_at", "approved_by", "published_at")


@admin.register(Block)
class BlockAdmin(AuditedAdmin):
    list_display = ("name", "description", "updated")
    search_fields = ("name", "description")


admin.site.register(Comment)
admin.site.register(Remark)
