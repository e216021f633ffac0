"""A model field that stores phone numbers in E.164 form."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from permanence.accounts.phones import PhoneNumberError, normalize


class PhoneField(models.CharField):  # type: ignore[type-arg]
    """CharField holding an E.164 number; any national or international spelling is accepted."""

    description = _("Phone number (E.164)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if value in (None, ""):
            return value
        try:
            return normalize(value, settings.PHONE_DEFAULT_REGION)
        except PhoneNumberError:
            raise ValidationError(
                _("“%(value)s” is not a valid phone number."),
                code="invalid_phone",
                params={"value": value},
            ) from None
