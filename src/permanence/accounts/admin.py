from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from permanence.accounts import actions
from permanence.accounts.models import Account, HoursException, Instruction, PhoneNumber, WeeklyHours
from permanence.audit.admin import AuditedAdmin


class PhoneNumberInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PhoneNumber
    extra = 0
    fields = ["number", "label", "assigned_at", "released_at"]


class WeeklyHoursInline(admin.TabularInline):  # type: ignore[type-arg]
    model = WeeklyHours
    extra = 0


class HoursExceptionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = HoursException
    extra = 0
    fields = ["start_date", "end_date", "ranges", "label"]


@admin.register(Account)
class AccountAdmin(AuditedAdmin):
    """Every change audited (fields before and after, inline rows too)."""

    list_display = ["name", "slug", "trade", "status", "timezone"]
    list_filter = ["trade", "status"]
    search_fields = ["name", "slug", "numbers__number"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PhoneNumberInline, WeeklyHoursInline, HoursExceptionInline]
    exclude = ["instructions_changed_at"]

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        if "instructions" in form.changed_data:  # the desk highlights the new text
            obj.instructions_changed_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["number", "account", "label", "assigned_at", "released_at"]
    list_filter = ["released_at"]
    search_fields = ["number", "account__name"]
    autocomplete_fields = ["account"]


class InstructionForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Instruction
        fields = ["account", "text", "starts_at", "ends_at"]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.instance.pk and self.instance.phase() == "past":
            raise forms.ValidationError(_("This instruction is over: it stays as history. Write a new one."))
        if cleaned.get("starts_at") and cleaned.get("ends_at"):
            cleaned["text"] = actions.check_instruction(
                cleaned.get("text", ""), cleaned["starts_at"], cleaned["ends_at"], timezone.now())
        return cleaned


@admin.register(Instruction)
class InstructionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Dated instructions, through the same actions as the pages and the API (validated, audited);
    withdrawn, never deleted."""

    form = InstructionForm
    list_display = ["__str__", "account", "starts_at", "ends_at", "withdrawn_at", "created_by"]
    list_select_related = ["account", "created_by"]
    list_filter = ["withdrawn_at"]
    search_fields = ["text", "account__name"]
    autocomplete_fields = ["account"]
    readonly_fields = ["created_by", "created_at", "changed_at", "withdrawn_at"]
    actions = ["withdraw"]

    def save_model(self, request: HttpRequest, obj: Instruction, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved = actions.change_instruction(obj, text=data["text"], starts_at=data["starts_at"],
                                               ends_at=data["ends_at"], actor=request.user, request=request)
        else:
            saved = actions.add_instruction(data["account"], data["text"], data["starts_at"], data["ends_at"],
                                            actor=request.user, request=request)
        obj.pk = saved.pk

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Withdraw the selected instructions now"))
    def withdraw(self, request: HttpRequest, queryset: Any) -> None:
        for instruction in queryset:
            try:
                actions.withdraw_instruction(instruction, actor=request.user, request=request)
            except ValidationError as error:
                self.message_user(request, f"{instruction}: {' '.join(error.messages)}", level="warning")
