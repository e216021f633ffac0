from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "permanence.audit"
    label = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        connection_created.connect(_on_connection, dispatch_uid="permanence-audit-sqlite")


def _on_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        from permanence.audit.models import register_sqlite_functions

        register_sqlite_functions(connection.connection)
