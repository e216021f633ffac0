"""The versions' account is required, and one version is in service per entry point.

Apart from 0002 (which fills the rows): PostgreSQL refuses to alter a table with
pending foreign-key checks in the same transaction."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_weekly_hours_close_after_opening'),
        ('scenarios', '0002_entry_points'),
    ]

    operations = [
        migrations.AlterField(
            model_name='scenarioversion',
            name='account',
            field=models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.account', verbose_name='account'),
        ),
        migrations.AddConstraint(
            model_name='scenarioversion',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'published')), fields=('account', 'entry'), name='one_version_in_service_per_entry', violation_error_message='Another version is in service at this entry point.'),
        ),
    ]
