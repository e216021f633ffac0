"""The command line a newcomer meets: `make demo`'s progress while loading the history."""

from __future__ import annotations

import io
import re
from datetime import date, time

from django.core.management import call_command

from permanence.accounts.models import WeeklyHours
from permanence.calls import history
from permanence.calls.models import Call


class Out(io.StringIO):
    """A command's stdout that records what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def test_history_reports_each_week_stored_then_the_count(alpha, personas):
    for weekday in range(5):
        WeeklyHours.objects.create(account=alpha, weekday=weekday, opens=time(8), closes=time(19))
    out = Out()
    stored = history.generate(
        alpha, weeks=3, until=date(2026, 11, 23), calls_per_week=200,
        secretaries=[personas["secretary"].pk], progress=history.report_to(out),
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and len(out.flushed) == 4  # each line flushed as it is written
    pattern = rf"Call history, {re.escape(alpha.name)}: week (\d) of 3 stored \((\d+) calls\)"
    weeks = [re.fullmatch(pattern, line) for line in lines[:3]]
    assert all(weeks), lines
    assert [int(m.group(1)) for m in weeks] == [1, 2, 3]
    assert sum(int(m.group(2)) for m in weeks) == stored == Call.objects.filter(account=alpha).count() > 300
    assert lines[3] == f"Call history, {alpha.name}: {stored} calls counted in the reports"


def test_load_demo_prints_the_history_progress_before_the_logins(db, monkeypatch):
    from permanence.accounts.management.commands import load_demo

    monkeypatch.setattr(load_demo, "HISTORY_WEEKS", 2)  # the same code on two weeks: quick
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    text = out.getvalue()
    for name in ("Cabinet Durand & Associés", "Cabinet médical des Tilleuls", "Plomberie Girard"):
        assert f"Call history, {name}: week 1 of 2 stored" in text
        assert f"Call history, {name}: week 2 of 2 stored" in text
    assert text.index("week 2 of 2") < text.index("Demo data loaded.") < text.index("Logins")
    # loaded again: the history is there, nothing to report
    again = io.StringIO()
    call_command("load_demo", stdout=again)
    assert "Call history," not in again.getvalue()
