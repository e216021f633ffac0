"""A new account starts from the template scenario of its trade (a draft to adapt)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from permanence.accounts.models import Account

MAIN = "Scénario principal"


@receiver(post_save, sender=Account, dispatch_uid="scenarios.start_from_template")
def start_from_template(
    sender: type[Account], instance: Account, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if not created or raw:
        return
    from permanence.scenarios import services
    from permanence.scenarios.models import Scenario, ScenarioVersion

    template = services.TRADE_TEMPLATE.get(instance.trade, "switchboard")
    scenario = Scenario.objects.create(account=instance, name=MAIN)
    source = services.template_source(template)
    version = ScenarioVersion(scenario=scenario, number=1, source=source, author=None)
    services.store_check(version, services.check(source, instance))
    version.save()
