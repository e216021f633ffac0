from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from permanence.audit import trail
from permanence.audit.models import Action, AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["at", "actor_name", "action", "object_type", "object_repr", "account"]
    list_select_related = ["account"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_repr", "object_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CallerDataAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A back-office page of caller data (contacts, calls, messages, appointments): each object opened
    leaves a "viewed" audit row, each list shown a "listed" one with its filters and size, as the
    client's pages and the API do."""

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: Any = None) -> Any:  # fmt: skip
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            obj = self.get_object(request, object_id)
            if obj is not None:
                trail.record(request.user, Action.VIEW, obj, request=request, via="admin")
        return response

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", None) and response.context_data.get("cl")
        if request.method == "GET" and response.status_code == 200 and changelist is not None:
            trail.record(
                request.user, Action.LIST, object_type=self.model._meta.label_lower, request=request,
                via="admin", query=request.GET.urlencode()[:500], rows=changelist.result_count,
            )
        return response


def _shown(value: Any) -> Any:
    """A value as the audit trail keeps it (JSON): models by key, files by name, the rest as text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, (list, tuple, set)) or hasattr(value, "__iter__") and not isinstance(value, bytes):
        try:
            return [_shown(v) for v in value]
        except TypeError:
            pass
    return str(value)


def _changes(form: Any) -> dict[str, Any]:
    return {
        name: {"before": _shown(form.initial.get(name)), "after": _shown(form.cleaned_data.get(name))}
        for name in form.changed_data
    }


class AuditedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A back-office page whose every write (the object, its inline rows, deletions) leaves an audit
    event with the fields changed, before and after: the Django admin is one more entry point."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            after = {k: v["after"] for k, v in _changes(form).items()}
            trail.record(request.user, Action.CREATE, obj, request=request, via="admin", after=after)
        elif form.changed_data:
            changes = _changes(form)
            trail.record(request.user, Action.UPDATE, obj, request=request, via="admin", changes=changes)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        deleted = [(f.instance, str(f.instance.pk)) for f in formset.deleted_forms if f.instance.pk]
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            trail.record(request.user, Action.CREATE, obj, request=request, via="admin")
        for obj, fields in formset.changed_objects:
            inline = next((f for f in formset.forms if f.instance.pk == obj.pk), None)
            detail = _changes(inline) if inline is not None else {name: {} for name in fields}
            trail.record(request.user, Action.UPDATE, obj, request=request, via="admin", changes=detail)
        for obj, pk in deleted:
            trail.record(request.user, Action.DELETE, obj, request=request, via="admin", object_id=pk)

    @admin.display(description=_("Where used"))
    def where_used(self, obj: Any) -> str:
        """The scenarios, rotas, swaps... that name this object (empty: it may be removed)."""
        from permanence import where_used

        uses = where_used.of(obj) if obj is not None and obj.pk else []
        return "; ".join(str(u) for u in uses) or "—"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        from permanence import where_used

        if obj is not None and type(obj) in where_used.KINDS and "where_used" not in fields:
            fields.append("where_used")
        return fields

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if "where_used" in self.get_readonly_fields(request, obj) and "where_used" not in fields:
            fields.append("where_used")
        return fields

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """Something still in use (``permanence.where_used``) is not deleted: the confirmation page
        lists its uses as protected and refuses, as Django does for protected rows."""
        from permanence import where_used

        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for obj in objs:
            protected = [*protected, *(f"{obj} — {use}" for use in where_used.of(obj))]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        trail.record(request.user, Action.DELETE, obj, request=request, via="admin")
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            trail.record(request.user, Action.DELETE, obj, request=request, via="admin")
        super().delete_queryset(request, queryset)
