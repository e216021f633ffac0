from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("Code from your authenticator app"),
        min_length=6,
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        token: str = self.cleaned_data["token"].replace(" ", "")
        if not token.isdigit():
            raise forms.ValidationError(_("The code is made of digits only."))
        return token


class SecondFactorForm(forms.Form):
    """At sign-in: the app's code, or a recovery code (letters and digits, the hyphen optional)."""

    token = forms.CharField(
        label=_("Code from your authenticator app, or a recovery code"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )

    def clean_token(self) -> str:
        token: str = self.cleaned_data["token"].replace(" ", "").replace("-", "").lower()
        if not ((token.isdigit() and 6 <= len(token) <= 8) or (len(token) == 8 and token.isalnum())):
            raise forms.ValidationError(
                _("Type the 6-digit code from your app, or one of your recovery codes.")
            )
        return token


class ContactImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))


class IdentifyForm(forms.Form):
    called = forms.CharField(label=_("Number called"), max_length=40)
    caller = forms.CharField(label=_("Caller's number"), max_length=40, required=False)


def field_errors(error: ValidationError) -> dict[str, str]:
    """A refusal of the named actions as one text per field (``general`` when it names none)."""
    if hasattr(error, "error_dict"):
        return {field: " ".join(messages) for field, messages in error.message_dict.items()}
    return {"general": " ".join(error.messages)}
