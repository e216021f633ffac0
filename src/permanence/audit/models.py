"""Append-only audit trail: who read or changed which caller data, when.

Rows are only ever inserted. The model refuses updates and deletes, and the
database itself refuses them too (triggers installed by the migration, on
SQLite and PostgreSQL), so that not even a bulk query can rewrite history.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils.translation import gettext_lazy as _


class AuditError(RuntimeError):
    pass


_purge_allowed = False


@contextmanager
def allow_purge() -> Iterator[None]:
    """Let the database delete audit events inside this block (retention purge only).

    Updates stay refused. On PostgreSQL the permission is a transaction-local
    setting; on SQLite a function the delete trigger asks.
    """
    global _purge_allowed
    previous = _purge_allowed
    _purge_allowed = True
    try:
        if connection.vendor == "postgresql":
            # SET LOCAL lasts until the end of the outermost transaction, so the
            # permission is withdrawn explicitly when the block ends.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT set_config('permanence.audit_purge', 'on', true)")
                try:
                    yield
                finally:
                    cursor.execute("SELECT set_config('permanence.audit_purge', 'off', true)")
        else:
            yield
    finally:
        _purge_allowed = previous


def register_sqlite_functions(raw_connection: Any) -> None:
    raw_connection.create_function(
        "permanence_audit_purge_allowed", 0, lambda: 1 if _purge_allowed else 0
    )


class Action(models.TextChoices):
    VIEW = "view", _("Viewed")
    LIST = "list", _("Listed")
    CREATE = "create", _("Created")
    UPDATE = "update", _("Changed")
    DELETE = "delete", _("Deleted")
    EXPORT = "export", _("Exported")
    IMPORT = "import", _("Imported")
    IDENTIFY = "identify", _("Identified a caller")


class AuditEvent(models.Model):
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        # The trail outlives the user row: deleting a user leaves their events as they are (an update
        # would be refused), the name kept in ``actor_name``, the key pointing at no row any more.
        on_delete=models.DO_NOTHING,
        null=True,
        related_name="+",
        db_constraint=False,
    )
    actor_name = models.CharField(_("who (name)"), max_length=150)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    account = models.ForeignKey(
        "accounts.Account",
        verbose_name=_("account"),
        on_delete=models.DO_NOTHING,
        null=True,
        related_name="+",
        db_constraint=False,
    )
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit trail")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["account", "-at"]), models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AuditError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AuditError("audit events are append-only")
