from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScenariosConfig(AppConfig):
    name = "permanence.scenarios"
    label = "scenarios"
    verbose_name = _("Call scenarios")

    def ready(self) -> None:
        from permanence.scenarios import signals  # noqa: F401 - connects the receivers
