from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from permanence.accounts.phones import try_normalize
from permanence.messaging.escalation import ON_CALL_PREFIX
from permanence.messaging.models import DeliveryPreference, EscalationPolicy


class DeliveryPreferenceForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = DeliveryPreference
        fields = [
            "normal_email",
            "normal_sms",
            "normal_push",
            "urgent_email",
            "urgent_sms",
            "urgent_push",
            "quiet_start",
            "quiet_end",
            "urgent_in_quiet_hours",
            "digest",
            "digest_at",
        ]
        widgets = {
            name: forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
            for name in ("quiet_start", "quiet_end", "digest_at")
        }

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if (data.get("quiet_start") is None) != (data.get("quiet_end") is None):
            raise forms.ValidationError(_("Quiet hours need both a start and an end."))
        return data


ON_CALL_WORDS = frozenset({"astreinte", "on call", "on-call", "on_call"})


class EscalationForm(forms.ModelForm):  # type: ignore[type-arg]
    steps_text = forms.CharField(
        label=_("Escalation list"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One e-mail address or mobile number per line, in order; “astreinte: Service” for "
                    "whoever is on call in that service's rota when the message escalates."),
    )

    class Meta:
        model = EscalationPolicy
        fields = ["delay_minutes"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["delay_minutes"].min_value = 1
        self.fields["delay_minutes"].widget.attrs.update({"min": 1, "max": 1440})
        if self.instance.pk:
            self.fields["steps_text"].initial = "\n".join(
                "astreinte: " + step.removeprefix(ON_CALL_PREFIX) if step.startswith(ON_CALL_PREFIX) else step
                for step in self.instance.steps)

    def clean_delay_minutes(self) -> int:
        delay: int = self.cleaned_data["delay_minutes"]
        if not 1 <= delay <= 1440:
            raise forms.ValidationError(_("Between 1 minute and 24 hours."))
        return delay

    def clean_steps_text(self) -> list[str]:
        steps: list[str] = []
        for line in self.cleaned_data["steps_text"].splitlines():
            line = line.strip()
            if not line:
                continue
            keyword, _sep, service = line.partition(":")
            if _sep and keyword.strip().casefold() in ON_CALL_WORDS:
                steps.append(self._on_call_step(service.strip(), line))
            elif "@" in line:
                try:
                    validate_email(line)
                except forms.ValidationError:
                    raise forms.ValidationError(
                        _("“%(line)s” is not an e-mail address.") % {"line": line}
                    ) from None
                steps.append(line)
            elif (number := try_normalize(line, settings.PHONE_DEFAULT_REGION)) is not None:
                steps.append(number)
            else:
                raise forms.ValidationError(
                    _("“%(line)s” is neither an e-mail address nor a phone number.") % {"line": line}
                )
        if len(steps) > 10:
            raise forms.ValidationError(_("Ten steps at most."))
        return steps

    def _on_call_step(self, service: str, line: str) -> str:
        from permanence.directory.models import Rota

        rotas = Rota.objects.filter(account_id=self.instance.account_id).select_related("service")
        found = next((r for r in rotas if r.service.name.casefold() == service.casefold()), None)
        if found is None:
            raise forms.ValidationError(
                _("“%(line)s”: no on-call rota for that service; the services with one: %(known)s.")
                % {"line": line, "known": ", ".join(r.service.name for r in rotas) or "—"}
            )
        return ON_CALL_PREFIX + found.service.name

    def save(self, commit: bool = True) -> EscalationPolicy:
        self.instance.steps = self.cleaned_data["steps_text"]
        policy: EscalationPolicy = super().save(commit)
        return policy
