"""On PostgreSQL, two booked appointments of one collaborator can never overlap (buffers included):
an exclusion constraint, checked by the database whatever writes (desk, API, calendar sync).
SQLite has no such constraint; there, ``services.book`` checks inside a serialised transaction."""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE agenda_appointment ADD CONSTRAINT appointment_no_double_booking
    EXCLUDE USING gist (collaborator_id WITH =, tstzrange(blocked_from, blocked_until, '[)') WITH &&)
    WHERE (status = 'booked');
"""
DROP = "ALTER TABLE agenda_appointment DROP CONSTRAINT IF EXISTS appointment_no_double_booking;"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("agenda", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
