"""Contacts: CSV import throughput and caller identification latency.

A client's CRM export can hold tens of thousands of rows; the desk identifies
the caller on every incoming call. Runs on a throwaway SQLite database (or on
the database named by DATABASE_URL). Run: make bench.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from io import StringIO


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    os.environ.setdefault("PERMANENCE_DATA_DIR", tempfile.mkdtemp(prefix="permanence-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "permanence.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, stdout=StringIO())

    from permanence.accounts.models import Account, PhoneNumber
    from permanence.contacts import csvio
    from permanence.contacts.identify import identify
    from permanence.contacts.models import Contact

    account, _ = Account.objects.get_or_create(slug="bench", defaults={"name": "Bench", "greeting": "Bench"})
    PhoneNumber.objects.get_or_create(account=account, number="+33145009999")
    Contact.objects.filter(account=account).delete()
    lines = ["Prénom;Nom;Société;Téléphone;Mobile;E-mail;Étiquettes"]
    for i in range(rows):
        lines.append(f"Jean{i};Dupont{i};Société {i % 97};01 4{i % 10} {i // 10000 % 100:02d} "
                     f"{i // 100 % 100:02d} {i % 100:02d};06 {i // 1000000 % 100:02d} "
                     f"{i // 10000 % 100:02d} {i // 100 % 100:02d} {i % 100:02d};j{i}@example.fr;client")
    lines.append("Mauvais;Numéro;;12;;;")
    data = ("\n".join(lines) + "\n").encode()

    started = time.perf_counter()
    report = csvio.import_contacts(account, data)
    elapsed = time.perf_counter() - started
    print(f"CSV import: {report.created} contacts created, {report.rejected_lines} rejected "
          f"in {elapsed:.2f} s ({report.created / elapsed:,.0f} rows/s, {len(data) / 1e6:.1f} MB)")

    samples = []
    for i in range(0, rows, max(1, rows // 500)):
        caller = f"+33 6 {i // 1000000 % 100:02d} {i // 10000 % 100:02d} {i // 100 % 100:02d} {i % 100:02d}"
        started = time.perf_counter()
        found = identify("01 45 00 99 99", caller)
        samples.append(time.perf_counter() - started)
        assert found.known, caller
    samples.sort()
    p50, p99 = statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99) - 1] * 1e3
    print(f"identify (called + caller in national/international spellings): "
          f"p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(samples)} look-ups among {rows} contacts")


if __name__ == "__main__":
    main()
