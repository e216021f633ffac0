"""Agenda forms: the link to a collaborator's own calendar."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from permanence.agenda.models import CalendarLink


def private_address_problem(url: str) -> str:
    """The server must not be made to reach its own network (SSRF) unless the operator allows it."""
    if getattr(settings, "CALENDAR_ALLOW_PRIVATE_ADDRESSES", False):
        return ""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return str(_("This server name is unknown."))
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
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
