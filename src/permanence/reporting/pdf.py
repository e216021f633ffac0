"""The monthly report of an account as a PDF (fpdf2): the month's figures, calls per day as bars,
the days' table. Texts, dates and numbers are in the active language: the view renders it in the
account's (``Account.language``); the built-in fonts carry Latin-1, so other characters are replaced."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from django.utils import translation
from django.utils.translation import gettext as _
from fpdf import FPDF

from permanence.reporting import kpis

MONTH_FORMAT = "MMMM y"


def _latin(text: str) -> str:
    return (
        text.replace("’", "'")
        .replace("–", "-")
        .replace("…", "...")
        .encode("latin-1", "replace")
        .decode("latin-1")
    )


def _locale() -> str:
    return translation.to_locale(translation.get_language() or "fr")


def _show(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name in ("service_level", "transfer_rate", "first_call_resolution"):
        return f"{format_decimal(value * 100, format='0.0', locale=_locale())} %"
    if isinstance(value, float):
        return str(format_decimal(value, format="0.0", locale=_locale()))
    return str(value)


def monthly(
    account: Any,
    first: date,
    series: dict[datetime, kpis.Figures],
    settings: kpis.Settings,
    columns: list[tuple[str, str]],
) -> bytes:
    doc = FPDF(orientation="landscape", format="A4")
    doc.set_compression(False)  # small files anyway; readable by the tests
    doc.set_title(_latin(f"{account.name} - {first:%Y-%m}"))
    doc.set_author("Permanence")
    doc.add_page()
    doc.set_font("Helvetica", "B", 16)
    month = format_date(first, MONTH_FORMAT, locale=_locale())
    title = _("%(account)s - report of %(month)s") % {"account": account.name, "month": month}
    doc.cell(0, 10, _latin(title), new_x="LMARGIN", new_y="NEXT")
    total = kpis.indicators(kpis.merge(series.values()), settings)
    doc.set_font("Helvetica", "", 10)
    summary = [
        (_("Calls received in opening hours"), total.offered),
        (_("Calls out of hours"), total.out_of_hours),
        (_("Answered"), total.answered),
        (_("Abandoned"), total.abandoned),
        (_("Diverted (maximum wait)"), total.diverted),
        (
            _("Answered within %(seconds)s s") % {"seconds": f"{settings.threshold_seconds:g}"},
            _show("service_level", total.service_level),
        ),
        (_("Average wait (answered calls)"), _show("asa_seconds", total.asa_seconds) + " s"),
        (_("Average handling time"), _show("aht_seconds", total.aht_seconds) + " s"),
        (_("Messages sent"), total.messages_sent),
        (_("Messages acknowledged"), total.messages_acknowledged),
    ]
    for label, value in summary:
        doc.cell(70, 6, _latin(label))
        doc.cell(40, 6, _latin(str(value)), new_x="LMARGIN", new_y="NEXT")
    # calls per day, as bars
    days = []
    day = first
    while day.month == first.month:
        days.append(day)
        day += timedelta(days=1)
    by_day = {start.date(): figures for start, figures in series.items()}
    top = max([1, *(f.offered for f in by_day.values())])
    x0, y0, width, height = doc.l_margin, doc.get_y() + 6, doc.epw, 45
    step = width / len(days)
    doc.set_draw_color(200, 200, 200)
    doc.line(x0, y0 + height, x0 + width, y0 + height)
    for i, day in enumerate(days):
        figures = by_day.get(day, kpis.Figures())
        bar = height * figures.offered / top
        doc.set_fill_color(31, 94, 255)
        if bar:
            doc.rect(x0 + i * step + step * 0.15, y0 + height - bar, step * 0.7, bar, style="F")
        doc.set_font("Helvetica", "", 6)
        doc.text(x0 + i * step + step * 0.3, y0 + height + 4, str(day.day))
    doc.set_y(y0 + height + 8)
    # the days' table
    shown = [
        "offered",
        "answered",
        "abandoned",
        "service_level",
        "asa_seconds",
        "aht_seconds",
        "messages_sent",
    ]
    labels = dict(columns)
    doc.set_font("Helvetica", "B", 8)
    doc.cell(30, 6, _latin(_("Day")), border=1)
    for name in shown:
        doc.cell(32, 6, _latin(labels[name]), border=1)
    doc.ln()
    doc.set_font("Helvetica", "", 8)
    for day in days:
        figures = by_day.get(day)
        if figures is None:
            continue
        ind = kpis.indicators(figures, settings)
        doc.cell(30, 5, _latin(format_date(day, "EEE d MMM", locale=_locale())), border=1)
        for name in shown:
            doc.cell(32, 5, _latin(_show(name, getattr(ind, name))), border=1)
        doc.ln()
    return bytes(doc.output())
