"""Entry points: an account has one version in service per entry point ("main" by default).

The versions carry their scenario's account and entry point so that a partial
unique index can hold it. Where an account had several published scenarios, the
desk used the one whose name sorts first: that one keeps "main"; each other keeps
its published version under an entry point named after it (listed here), so that
nothing is retired by the migration.
"""

import sys

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models
from django.utils.text import slugify


def fill(apps, schema_editor):
    Scenario = apps.get_model("scenarios", "Scenario")
    ScenarioVersion = apps.get_model("scenarios", "ScenarioVersion")
    published = (
        ScenarioVersion.objects.filter(status="published")
        .select_related("scenario", "scenario__account")
        .order_by("scenario__account_id", "scenario__name", "scenario__pk")
    )
    serving: dict[int, int] = {}  # account -> the scenario that keeps "main"
    for version in published:
        scenario = version.scenario
        if serving.setdefault(scenario.account_id, scenario.pk) == scenario.pk:
            continue
        taken = set(Scenario.objects.filter(account_id=scenario.account_id).values_list("entry", flat=True))
        base = slugify(scenario.name)[:36] or f"scenario-{scenario.pk}"
        base = base if base[0].isalpha() else f"s-{base}"[:36]
        entry, n = base, 2
        while entry in taken:
            entry, n = f"{base}-{n}", n + 1
        scenario.entry = entry
        scenario.save(update_fields=["entry"])
        sys.stdout.write(
            f"\n  {scenario.account.name}: “{scenario.name}” stays in service at the entry point “{entry}” "
            "(“main” is served by the scenario the desk used)"
        )
    for scenario in Scenario.objects.all():
        ScenarioVersion.objects.filter(scenario=scenario).update(account_id=scenario.account_id, entry=scenario.entry)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_weekly_hours_close_after_opening'),
        ('scenarios', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='scenario',
            name='entry',
            field=models.CharField(default='main', help_text='“main” serves the account\'s calls; one version in service per entry point.', max_length=40, validators=[django.core.validators.RegexValidator('^[a-z][a-z0-9_-]{0,39}$', 'Lower-case letters, digits, - and _, starting with a letter.')], verbose_name='entry point'),
        ),
        migrations.AddField(
            model_name='scenarioversion',
            name='account',
            field=models.ForeignKey(editable=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.account', verbose_name='account'),
        ),
        migrations.AddField(
            model_name='scenarioversion',
            name='entry',
            field=models.CharField(default='main', editable=False, max_length=40, verbose_name='entry point'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
