"""Rollups as integer counters (issue 21): a column per figure, a nullable column per bucket of the wait
histograms, sums of seconds in microseconds; the JSON figures of existing rows are converted, then
dropped."""

from django.db import migrations, models

COUNTS = {
    "offered": "calls",
    "out_of_hours": "out_of_hours",
    "not_in_service": "not_in_service",
    "voice_menu": "voice_menu",
    "answered": "answered",
    "abandoned": "abandoned",
    "diverted": "diverted",
    "handled": "handled",
    "transferred": "transferred",
    "fcr_eligible": "fcr_eligible",
    "fcr_resolved": "fcr_resolved",
    "messages_sent": "messages_sent",
    "messages_acknowledged": "messages_acknowledged",
}
MICROS = {
    "wait_answered_seconds": "wait_answered_us",
    "wait_all_seconds": "wait_all_us",
    "talk_seconds": "talk_us",
    "hold_seconds": "hold_us",
    "wrap_seconds": "wrap_us",
    "handling_seconds": "handling_us",
    "staffed_seconds": "staffed_us",
    "longest_wait_seconds": "longest_wait_us",
}
BUCKETS = 121
HISTOGRAMS = {"answered_waits": "aw", "abandoned_waits": "bw"}


def counters(data):
    """The columns of a row's JSON figures."""
    out = {}
    for name, column in COUNTS.items():
        out[column] = int(data.get(name, 0))
    for name, column in MICROS.items():
        out[column] = round(float(data.get(name, 0.0)) * 1_000_000)
    for name, prefix in HISTOGRAMS.items():
        stored = data.get(name) or {}
        pairs = stored.items() if isinstance(stored, dict) else enumerate(stored)
        for index, count in pairs:
            if count:
                out[f"{prefix}{int(index)}"] = int(count)
    return out


def convert(apps, schema_editor):
    """Each row's JSON figures into the columns (frozen here: the models may change later)."""
    Rollup = apps.get_model("reporting", "Rollup")
    columns = [*(c for c in COUNTS.values()), *MICROS.values()]
    columns += [f"{p}{i}" for p in HISTOGRAMS.values() for i in range(BUCKETS)]
    batch = []
    for row in Rollup.objects.order_by("pk").iterator(chunk_size=2000):
        for column, value in counters(row.figures or {}).items():
            setattr(row, column, value)
        batch.append(row)
        if len(batch) >= 2000:
            Rollup.objects.bulk_update(batch, columns)
            batch = []
    if batch:
        Rollup.objects.bulk_update(batch, columns)


def counter(name):
    return migrations.AddField(
        model_name="rollup", name=name, field=models.BigIntegerField(default=0, db_default=0)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0002_call_reviews"),
    ]

    operations = [
        migrations.AlterField(
            model_name="rollup", name="calls", field=models.BigIntegerField(default=0, db_default=0)
        ),
        *(counter(column) for column in COUNTS.values() if column != "calls"),
        *(counter(column) for column in MICROS.values()),
        *(
            migrations.AddField(
                model_name="rollup", name=f"{prefix}{index}", field=models.IntegerField(null=True, blank=True)
            )
            for prefix in HISTOGRAMS.values()
            for index in range(BUCKETS)
        ),
        migrations.RunPython(convert, migrations.RunPython.noop),
        migrations.RemoveField(model_name="rollup", name="figures"),
    ]
