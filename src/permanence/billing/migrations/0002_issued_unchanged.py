"""The database itself refuses to change or delete an issued invoice, its lines and its decisions (the
model refuses it too): a correction is a credit note. Deletes pass only where the audit's purge is
allowed (``permanence.audit.models.allow_purge``: the tests' flush), as for the audit trail."""

from django.db import migrations

CHILDREN = ("billing_invoiceline", "billing_decision")
SQLITE = [
    """CREATE TRIGGER billing_invoice_issued_no_update BEFORE UPDATE ON billing_invoice
       WHEN OLD.status = 'issued'
       BEGIN SELECT RAISE(ABORT, 'an issued invoice does not change'); END""",
    """CREATE TRIGGER billing_invoice_issued_no_delete BEFORE DELETE ON billing_invoice
       WHEN OLD.status = 'issued' AND NOT permanence_audit_purge_allowed()
       BEGIN SELECT RAISE(ABORT, 'an issued invoice does not change'); END""",
]
for _table in CHILDREN:
    SQLITE += [
        f"""CREATE TRIGGER {_table}_issued_no_insert BEFORE INSERT ON {_table}
            WHEN (SELECT status FROM billing_invoice WHERE id = NEW.invoice_id) = 'issued'
            BEGIN SELECT RAISE(ABORT, 'an issued invoice does not change'); END""",
        f"""CREATE TRIGGER {_table}_issued_no_update BEFORE UPDATE ON {_table}
            WHEN (SELECT status FROM billing_invoice WHERE id = OLD.invoice_id) = 'issued'
                 OR (SELECT status FROM billing_invoice WHERE id = NEW.invoice_id) = 'issued'
            BEGIN SELECT RAISE(ABORT, 'an issued invoice does not change'); END""",
        f"""CREATE TRIGGER {_table}_issued_no_delete BEFORE DELETE ON {_table}
            WHEN (SELECT status FROM billing_invoice WHERE id = OLD.invoice_id) = 'issued'
                 AND NOT permanence_audit_purge_allowed()
            BEGIN SELECT RAISE(ABORT, 'an issued invoice does not change'); END""",
    ]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS billing_invoice_issued_no_update",
    "DROP TRIGGER IF EXISTS billing_invoice_issued_no_delete",
    *(f"DROP TRIGGER IF EXISTS {t}_issued_no_{op}" for t in CHILDREN for op in ("insert", "update", "delete")),
]
POSTGRES = [
    """CREATE OR REPLACE FUNCTION billing_issued_unchanged() RETURNS trigger AS $$
       DECLARE
         parent_status text;
         new_parent_status text;
       BEGIN
         IF TG_TABLE_NAME = 'billing_invoice' THEN
           parent_status := OLD.status;
         ELSE
           IF TG_OP <> 'INSERT' THEN
             SELECT status INTO parent_status FROM billing_invoice WHERE id = OLD.invoice_id;
           END IF;
           IF TG_OP <> 'DELETE' THEN
             SELECT status INTO new_parent_status FROM billing_invoice WHERE id = NEW.invoice_id;
             IF new_parent_status = 'issued' THEN
               parent_status := new_parent_status;
             END IF;
           END IF;
         END IF;
         IF parent_status IS DISTINCT FROM 'issued' THEN
           IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
           RETURN NEW;
         END IF;
         IF TG_OP = 'DELETE' AND current_setting('permanence.audit_purge', true) = 'on' THEN
           RETURN OLD;
         END IF;
         RAISE EXCEPTION 'an issued invoice does not change';
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER billing_invoice_issued_unchanged BEFORE UPDATE OR DELETE ON billing_invoice
       FOR EACH ROW EXECUTE FUNCTION billing_issued_unchanged()""",
    *(f"""CREATE TRIGGER {t}_issued_unchanged BEFORE INSERT OR UPDATE OR DELETE ON {t}
          FOR EACH ROW EXECUTE FUNCTION billing_issued_unchanged()""" for t in CHILDREN),
]
POSTGRES_REVERSE = [
    *(f"DROP TRIGGER IF EXISTS {t}_issued_unchanged ON {t}" for t in ("billing_invoice", *CHILDREN)),
    "DROP FUNCTION IF EXISTS billing_issued_unchanged()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        from permanence.audit.models import register_sqlite_functions

        if schema_editor.connection.vendor == "sqlite":
            register_sqlite_functions(schema_editor.connection.connection)
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(f"no billing triggers for {schema_editor.connection.vendor}")
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial"), ("audit", "0003_append_only_triggers")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRES}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRES_REVERSE}),
        )
    ]
