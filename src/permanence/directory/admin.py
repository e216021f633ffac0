from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from permanence.audit.admin import AuditedAdmin
from permanence.directory import people, rules
from permanence.directory.models import (
    CALLER_TYPE_CHOICES,
    Absence,
    ChangeStatus,
    Collaborator,
    DirectoryChange,
    Service,
    TransferWindow,
    unknown_caller_types_error,
)


class CollaboratorForm(forms.ModelForm):  # type: ignore[type-arg]
    """The caller types are picked from the shared list; words kept from before it are shown apart
    and refused until they are replaced by types from the list (nothing is dropped silently)."""

    caller_types = forms.MultipleChoiceField(
        label=_("only for caller types"),
        choices=CALLER_TYPE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any caller."),
    )
    unknown_caller_types = forms.CharField(
        label=_("words that are not caller types"),
        required=False,
        help_text=_("Written before the shared list: tick the matching types above, then empty this field."),
    )

    class Meta:
        model = Collaborator
        fields = [
            "account", "service", "title", "first_name", "last_name", "job_title", "specialties", "keywords",
            "direct_line", "mobile", "email", "instructions", "transfer_mode", "transfer_urgent_only",
            "transfer_urgent_bypass", "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        codes, unknown = rules.parse_caller_types(self.instance.transfer_caller_types)
        self.fields["caller_types"].initial = list(codes)
        self.fields["unknown_caller_types"].initial = ", ".join(unknown)

    def clean_unknown_caller_types(self) -> str:
        text: str = self.cleaned_data.get("unknown_caller_types", "")
        codes, unknown = rules.parse_caller_types(text)
        if unknown:
            raise unknown_caller_types_error(unknown)
        if codes:  # a word of the list typed here (“confrère”): tick it instead
            raise forms.ValidationError(
                _("Tick %(types)s in the list above and empty this field."),
                params={"types": ", ".join(str(dict(CALLER_TYPE_CHOICES)[c]) for c in codes)},
            )
        return text

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        picked = [code for code in rules.CALLER_TYPES if code in (cleaned.get("caller_types") or [])]
        self.instance.transfer_caller_types = ", ".join(picked)
        if self.instance.pk:  # the same refusals as the client's pages (directory.people)
            stored = Collaborator.objects.get(pk=self.instance.pk)
            try:
                people.check_rename(stored, cleaned.get("first_name") or "", cleaned.get("last_name") or "")
            except ValidationError as refused:
                self.add_error("last_name", refused)
            if stored.is_active and cleaned.get("is_active") is False:
                try:
                    people.check_leave(stored)
                except ValidationError as refused:
                    self.add_error("is_active", refused)
        return cleaned


class TransferWindowInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TransferWindow
    extra = 0


class AbsenceInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Absence
    fk_name = "collaborator"
    extra = 0


@admin.register(Collaborator)
class CollaboratorAdmin(AuditedAdmin):
    form = CollaboratorForm
    fields = [
        *CollaboratorForm.Meta.fields[:13], "caller_types", "unknown_caller_types",
        *CollaboratorForm.Meta.fields[13:],
    ]
    list_display = ["__str__", "account", "service", "job_title", "transfer_mode", "callers", "is_active"]
    list_select_related = ["account", "service"]
    list_filter = ["transfer_mode", "is_active", "account"]
    search_fields = ["last_name", "first_name", "specialties", "keywords", "account__name"]
    autocomplete_fields = ["account"]
    inlines = [TransferWindowInline, AbsenceInline]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_fields(request, obj))
        if obj is None or not obj.unknown_caller_types:
            fields.remove("unknown_caller_types")
        return fields

    @admin.display(description=_("only for caller types"))
    def callers(self, obj: Collaborator) -> str:
        return obj.caller_type_labels

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        left = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if left:  # as people.leave: what was planned for the person is cancelled
            for planned in DirectoryChange.objects.filter(collaborator=obj, status=ChangeStatus.PENDING):
                people.cancel_change(planned, actor=request.user, request=request)


class ServiceForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Service
        fields = ["account", "name", "description"]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        account = cleaned.get("account") or (self.instance.account if self.instance.pk else None)
        name = " ".join((cleaned.get("name") or "").split())
        if account is not None and name:
            stored = Service.objects.get(pk=self.instance.pk) if self.instance.pk else None
            try:
                people.check_service_name(account, name, stored)
            except ValidationError as refused:
                for field, problems in refused.message_dict.items():
                    self.add_error(field if field in self.fields else None, problems)
            cleaned["name"] = name
        return cleaned


@admin.register(DirectoryChange)
class DirectoryChangeAdmin(AuditedAdmin):
    """Planned changes are written on the client's pages (or the API); here they are read, and
    cancelled through the same action."""

    list_display = ["effective_at", "account", "kind", "collaborator", "status", "created_by"]
    list_select_related = ["account", "collaborator", "created_by"]
    list_filter = ["status", "kind"]
    search_fields = ["account__name", "collaborator__last_name"]
    readonly_fields = ["account", "collaborator", "kind", "data", "effective_at", "status", "outcome",
                       "created_by", "created_at", "done_at"]
    actions = ["cancel"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Cancel the selected planned changes"))
    def cancel(self, request: HttpRequest, queryset: Any) -> None:
        for change in queryset.filter(status=ChangeStatus.PENDING):
            people.cancel_change(change, actor=request.user, request=request)


@admin.register(Service)
class ServiceAdmin(AuditedAdmin):
    form = ServiceForm

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "account"] if obj is not None else fields  # its people and rota stay with it
    list_display = ["name", "account"]
    search_fields = ["name", "account__name"]
    autocomplete_fields = ["account"]
