"""Agenda forms: appointment types, working hours and exceptions, the link to a collaborator's own
calendar."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from permanence import outbound
from permanence.accounts import hours
from permanence.accounts.models import Account, Weekday, hours_error
from permanence.agenda import calendars
from permanence.agenda.models import (
    AppointmentType,
    AvailabilityException,
    CalendarLink,
    WorkingHours,
    ranges_by_weekday,
)
from permanence.directory.models import Collaborator


def private_address_problem(url: str) -> str:
    """The server must not be made to reach its own networks (SSRF) unless the operator allows it: said
    here when the address is saved, and checked again on every connection (``permanence.outbound``)."""
    problem = calendars.address_filter().url_problem(url)
    if problem == outbound.UNKNOWN_NAME:
        return str(_("This server name is unknown."))
    if problem:
        return str(_("This address is on a private network; the operator must allow such addresses."))
    return ""


class CalendarLinkForm(forms.ModelForm):
    password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("An application password if the server offers them. Empty: keep the one saved."),
    )

    class Meta:
        model = CalendarLink
        fields = ["url", "username"]
        help_texts = {
            "url": _(
                "The address of the calendar itself (CalDAV), e.g. https://cloud.example.fr/remote.php/dav/calendars/anne/travail/"
            ),
        }

    def clean_url(self) -> str:
        url = str(self.cleaned_data["url"]).strip()
        if urlsplit(url).scheme not in ("http", "https"):
            raise forms.ValidationError(_("The address must start with https:// (or http://)."))
        problem = private_address_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url

    def save(self, commit: bool = True) -> Any:
        link = super().save(commit=False)
        if self.cleaned_data.get("password"):
            link.password = self.cleaned_data["password"]
        if commit:
            link.save()
        return link


class AppointmentTypeForm(forms.ModelForm):
    """An appointment type of one account; its collaborators are chosen among the account's."""

    class Meta:
        model = AppointmentType
        fields = [
            "name",
            "code",
            "motives",
            "duration_minutes",
            "buffer_before_minutes",
            "buffer_after_minutes",
            "step_minutes",
            "min_notice_minutes",
            "horizon_days",
            "places",
            "questions",
            "collaborators",
            "confirmation_text",
            "reminder_text",
            "reminder_hours",
            "is_active",
        ]
        widgets = {
            "collaborators": forms.CheckboxSelectMultiple,
            "motives": forms.TextInput,
            "questions": forms.Textarea(attrs={"rows": 3}),
            "confirmation_text": forms.Textarea(attrs={"rows": 3}),
            "reminder_text": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.account = account
        self.fields["collaborators"].queryset = Collaborator.objects.filter(account=account, is_active=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # the account is not a field of the form: Django would skip the per-account unique checks
        others = AppointmentType.objects.filter(account=self.instance.account).exclude(pk=self.instance.pk)
        name = data.get("name")
        if name and others.filter(name__iexact=name).exists():
            self.add_error("name", _("This account already has a type with this name."))
        if self.instance.pk and not data.get("code"):
            data["code"] = self.instance.code  # the scenarios name it: renaming the type keeps it
        code = data.get("code") or slugify(name or "").replace("-", "_")[:63]
        if code and others.filter(code=code).exists():
            self.add_error("code", _("This account already has a type with this code."))
        return data


class WeeklyHoursForm(forms.Form):
    """A collaborator's working ranges, one line per weekday (“09:00-12:00, 14:00-18:00”)."""

    def __init__(self, *args: Any, collaborator: Collaborator, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.collaborator = collaborator
        current = ranges_by_weekday(collaborator.working_hours.all())
        for day, label in Weekday.choices:
            self.fields[f"day{day}"] = forms.CharField(
                label=label, required=False, initial=", ".join(current.get(day, []))
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.parsed: dict[int, tuple[hours.TimeRange, ...]] = {}
        for day, _label in Weekday.choices:
            try:
                self.parsed[day] = hours.parse_ranges(data.get(f"day{day}", ""))
            except hours.HoursError as exc:
                self.add_error(f"day{day}", hours_error(exc))
        return data

    def save(self) -> int:
        """Replace the collaborator's working hours; how many ranges now."""
        rows = [
            WorkingHours(collaborator=self.collaborator, weekday=day, start=r.start, end=r.end)
            for day, ranges in self.parsed.items()
            for r in ranges
        ]
        with transaction.atomic():
            WorkingHours.objects.filter(collaborator=self.collaborator).delete()
            WorkingHours.objects.bulk_create(rows)
        return len(rows)


class AvailabilityExceptionForm(forms.ModelForm):
    class Meta:
        model = AvailabilityException
        fields = ["start_date", "end_date", "ranges", "label"]
        widgets = {
            "start_date": forms.DateInput(attrs={"type": "date"}),
            "end_date": forms.DateInput(attrs={"type": "date"}),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, last = data.get("start_date"), data.get("end_date")
        if first and last and last < first:
            self.add_error("end_date", _("The end date is before the start date."))
        return data
