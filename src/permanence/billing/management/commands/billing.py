"""The monthly billing from the command line: ``billing run`` (drafts), ``billing issue`` (numbers them),
``billing export`` (one Factur-X PDF per issued document and the accounting CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permanence.accounts.models import Account
from permanence.billing import documents, services


class Command(BaseCommand):
    help = "Bill a month: run (draft invoices), issue (number the drafts), export (Factur-X PDFs and CSV)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser(
            "run", help="rate the month and make the draft invoices (again, if drafts exist)"
        )
        run.add_argument("--month", required=True, help="YYYY-MM")
        run.add_argument(
            "--account", action="append", default=[], help="only this account (slug); repeatable"
        )
        issue = sub.add_parser(
            "issue", help="issue the month's drafts: numbers without gaps, then unchangeable"
        )
        issue.add_argument("--month", required=True, help="YYYY-MM")
        export = sub.add_parser("export", help="write one Factur-X PDF per issued document and the CSV")
        export.add_argument("--month", required=True, help="YYYY-MM")
        export.add_argument("--output", type=Path, required=True, help="the folder to write into")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            month = services.parse_month(options["month"])
            getattr(self, f"_{options['action']}")(month, options)
        except (services.BillingError, documents.DocumentError) as exc:
            raise CommandError(str(exc)) from None

    def _run(self, month: Any, options: dict[str, Any]) -> None:
        accounts = None
        if options["account"]:
            accounts = list(Account.objects.filter(slug__in=options["account"]))
            missing = sorted(set(options["account"]) - {a.slug for a in accounts})
            if missing:
                raise CommandError(f"No account named {', '.join(missing)}.")
        result = services.run(month, accounts=accounts)
        for invoice in result.drafts:
            lines = invoice.lines.count()
            self.stdout.write(
                f"{invoice.account.slug}: {invoice.get_kind_display()} — {lines} lines, "
                f"{invoice.net} HT, {invoice.gross} TTC (draft)"
            )
        for account, why in result.skipped:
            self.stdout.write(f"{account.slug}: skipped ({why})")
        self.stdout.write(f"{len(result.drafts)} drafts for {month:%Y-%m}.")

    def _issue(self, month: Any, options: dict[str, Any]) -> None:
        result = services.issue(month)
        for invoice in result.issued:
            self.stdout.write(f"{invoice.number} {invoice.account.slug}: {invoice.gross} TTC")
        for invoice, why in result.refused:
            self.stderr.write(f"{invoice.account.slug}: {invoice.get_kind_display()} not issued: {why}")
        if result.refused:
            raise CommandError(
                f"{len(result.refused)} drafts not issued ({len(result.issued)} issued): fix the account's "
                "billing profile or the operator's BILLING_* settings, run again, then issue."
            )
        if not result.issued:
            raise CommandError(f"No draft to issue for {month:%Y-%m}: run `permanence billing run` first.")
        self.stdout.write(f"{len(result.issued)} documents issued for {month:%Y-%m}.")

    def _export(self, month: Any, options: dict[str, Any]) -> None:
        try:
            written = services.export(month, options["output"])
        except OSError as exc:
            raise CommandError(f"Cannot write into {options['output']}: {exc.strerror or exc}") from None
        for path in written:
            self.stdout.write(str(path))
