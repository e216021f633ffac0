"""The back-office: each account's billing profile (whom invoices go to, what is not billed), its plans
(effective-dated), its service promise; invoices and disputes are read here and handled on the billing
pages (``/billing/``)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from permanence.audit.admin import AuditedAdmin
from permanence.billing.models import BillingProfile, Dispute, Invoice, Plan, ServicePromise


@admin.register(BillingProfile)
class BillingProfileAdmin(AuditedAdmin):
    list_display = ("account", "legal_name", "city", "vat_id")
    search_fields = ("account__name", "account__slug", "legal_name")
    autocomplete_fields = ("account",)


@admin.register(Plan)
class PlanAdmin(AuditedAdmin):
    list_display = ("account", "starts_on", "name", "monthly_fee", "included_calls", "per_call")
    list_filter = ("starts_on",)
    search_fields = ("account__name", "account__slug", "name")
    autocomplete_fields = ("account",)


@admin.register(ServicePromise)
class ServicePromiseAdmin(AuditedAdmin):
    list_display = ("account", "answer_within_seconds", "answer_share", "max_abandon_rate")
    search_fields = ("account__name", "account__slug")
    autocomplete_fields = ("account",)


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnly):
    list_display = ("__str__", "account", "month", "kind", "status", "net", "gross")
    list_filter = ("status", "kind", "month")
    search_fields = ("number", "account__name", "account__slug")


@admin.register(Dispute)
class DisputeAdmin(ReadOnly):
    list_display = ("account", "invoice", "call", "status", "amount", "created")
    list_filter = ("status",)
