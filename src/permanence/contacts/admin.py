from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from permanence.audit.admin import CallerDataAdmin
from permanence.contacts.models import Contact, ContactNumber


class ContactNumberInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ContactNumber
    extra = 0
    fields = ["number", "label"]


@admin.register(Contact)
class ContactAdmin(CallerDataAdmin):
    list_display = ["__str__", "account", "email", "tags"]
    list_filter = ["account"]
    search_fields = ["last_name", "first_name", "company", "file_number", "numbers__number"]
    fieldsets = [
        (None, {"fields": ["account", "first_name", "last_name", "company", "email", "tags", "notes"]}),
        (_("Identity check"), {
            "fields": ["file_number", "birth_date", "postcode"],
            "description": _("What a scenario's identity check compares with the caller's answers "
                             "(the account's identity questions)."),
        }),
    ]  # fmt: skip
    autocomplete_fields = ["account"]
    inlines = [ContactNumberInline]
