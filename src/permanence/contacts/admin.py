from django.contrib import admin

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
    search_fields = ["last_name", "first_name", "company", "numbers__number"]
    autocomplete_fields = ["account"]
    inlines = [ContactNumberInline]
