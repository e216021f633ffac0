"""People who sign in to Permanence, their role and, for secretaries, their skills."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OPERATOR_ADMIN = "operator_admin", _("Operator admin")
    TECHNICAL_ASSISTANT = "technical_assistant", _("Technical assistant")
    SECRETARY = "secretary", _("Secretary")
    CLIENT_ADMIN = "client_admin", _("Client admin")
    CLIENT_USER = "client_user", _("Client collaborator")


CLIENT_ROLES = frozenset({Role.CLIENT_ADMIN, Role.CLIENT_USER})
STAFF_ROLES = frozenset({Role.OPERATOR_ADMIN, Role.TECHNICAL_ASSISTANT, Role.SECRETARY})
BACK_OFFICE_ROLES = frozenset({Role.OPERATOR_ADMIN, Role.TECHNICAL_ASSISTANT})
# Django admin apps a technical assistant may edit: the client's set-up.
TECHNICAL_ASSISTANT_APPS = frozenset({"accounts", "directory", "contacts"})


class User(AbstractUser):
    """A person who signs in. Client users belong to exactly one account; staff to none."""

    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    account = models.ForeignKey(
        "accounts.Account",
        verbose_name=_("client account"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        help_text=_("Only for client admins and client collaborators."),
    )
    languages = models.ManyToManyField(
        "users.Language", verbose_name=_("languages spoken"), blank=True, related_name="speakers"
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                name="user_client_roles_have_one_account",
                condition=(
                    Q(role__in=sorted(r.value for r in CLIENT_ROLES), account__isnull=False)
                    | (~Q(role__in=sorted(r.value for r in CLIENT_ROLES)) & Q(account__isnull=True))
                ),
            ),
            models.CheckConstraint(
                name="user_role_is_known", condition=Q(role__in=[r.value for r in Role])
            ),
        ]

    @property
    def is_client(self) -> bool:
        return self.role in CLIENT_ROLES

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Back-office access follows the role; it is never set by hand.
        self.is_staff = self.role in BACK_OFFICE_ROLES
        self.is_superuser = self.role == Role.OPERATOR_ADMIN
        if "update_fields" in kwargs and kwargs["update_fields"] is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "is_staff", "is_superuser"}
        super().save(*args, **kwargs)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        """Django admin model permissions: technical assistants edit the client set-up."""
        if self.is_active and self.role == Role.TECHNICAL_ASSISTANT:
            app_label = perm.split(".", 1)[0]
            if app_label in TECHNICAL_ASSISTANT_APPS:
                return True
        return super().has_perm(perm, obj)

    def has_module_perms(self, app_label: str) -> bool:
        if (
            self.is_active
            and self.role == Role.TECHNICAL_ASSISTANT
            and app_label in TECHNICAL_ASSISTANT_APPS
        ):
            return True
        return super().has_module_perms(app_label)

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} ({self.username})" if full else self.username


class Language(models.Model):
    """A language a secretary can answer in (ISO 639-1 code)."""

    code = models.CharField(_("code"), max_length=8, primary_key=True)
    name = models.CharField(_("name"), max_length=64)

    class Meta:
        verbose_name = _("language")
        verbose_name_plural = _("languages")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Training(models.Model):
    """A secretary trained on an account: the skill that grants both routing and data access."""

    class Level(models.IntegerChoices):
        BACKUP = 1, _("Backup")
        TRAINED = 2, _("Trained")
        EXPERT = 3, _("Expert")

    secretary = models.ForeignKey(
        User,
        verbose_name=_("secretary"),
        on_delete=models.CASCADE,
        related_name="trainings",
        limit_choices_to={"role": Role.SECRETARY},
    )
    account = models.ForeignKey(
        "accounts.Account",
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="trainings",
    )
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices, default=Level.TRAINED)
    since = models.DateField(_("trained since"), auto_now_add=True)

    class Meta:
        verbose_name = _("training")
        verbose_name_plural = _("trainings")
        constraints = [
            models.UniqueConstraint(fields=["secretary", "account"], name="training_once_per_account")
        ]

    def __str__(self) -> str:
        return f"{self.secretary} → {self.account}"
