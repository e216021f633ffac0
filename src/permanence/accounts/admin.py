from django.contrib import admin

from permanence.accounts.models import Account, HoursException, PhoneNumber, WeeklyHours


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
class AccountAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "slug", "trade", "status", "timezone"]
    list_filter = ["trade", "status"]
    search_fields = ["name", "slug", "numbers__number"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PhoneNumberInline, WeeklyHoursInline, HoursExceptionInline]


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["number", "account", "label", "assigned_at", "released_at"]
    list_filter = ["released_at"]
    search_fields = ["number", "account__name"]
    autocomplete_fields = ["account"]
