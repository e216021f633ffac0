"""permanence staffing: agents needed for a volume of calls (Erlang C, or Erlang A with --patience)."""

from __future__ import annotations

import json
import math
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permanence.planning import erlang


class Command(BaseCommand):
    help = (
        "Agents needed to answer a volume of calls: Erlang C, or Erlang A when callers hang up "
        "(--patience); prints the predicted service level, ASA, abandonment and occupancy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--calls-per-hour", type=float, required=True, help="calls offered in an hour")
        parser.add_argument("--aht", type=float, required=True, help="average handle time, seconds")
        parser.add_argument("--target-sl", type=float, default=0.8, help="share answered in time (0.8)")
        parser.add_argument("--target-seconds", type=float, default=20.0, help="answered within (20 s)")
        parser.add_argument("--target-asa", type=float, help="mean wait of answered calls at most, seconds")
        parser.add_argument("--patience", type=float, help="mean seconds before a caller hangs up (Erlang A)")
        parser.add_argument("--max-abandonment", type=float, help="share of callers hanging up at most")
        parser.add_argument("--max-occupancy", type=float, default=1.0, help="share of time talking at most")
        parser.add_argument("--shrinkage", type=float, default=0.0, help="share of paid time off the phones")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            found = erlang.required_agents(
                options["calls_per_hour"],
                options["aht"],
                target_sl=options["target_sl"],
                target_seconds=options["target_seconds"],
                target_asa=options["target_asa"],
                patience=options["patience"],
                max_abandonment=options["max_abandonment"],
                max_occupancy=options["max_occupancy"],
                shrinkage=options["shrinkage"],
            )
        except erlang.StaffingError as exc:
            raise CommandError(str(exc)) from None
        perf = found.performance
        result = {
            "model": "erlang_a" if options["patience"] is not None else "erlang_c",
            "traffic_erlangs": round(perf.traffic, 6),
            "agents": found.agents,
            "scheduled_agents": found.scheduled,
            "service_level": round(perf.service_level, 6),
            "asa_seconds": round(perf.asa_seconds, 3) if math.isfinite(perf.asa_seconds) else None,
            "waiting_probability": round(perf.waiting_probability, 6),
            "abandonment": round(perf.abandonment, 6),
            "occupancy": round(perf.occupancy, 6),
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(
            f"{result['traffic_erlangs']:.2f} Erlangs: {found.agents} agents on the phones"
            f" ({found.scheduled} scheduled with {options['shrinkage']:.0%} shrinkage)\n"
            f"  service level {perf.service_level:.1%} in {options['target_seconds']:g} s,"
            f" ASA {perf.asa_seconds:.1f} s, waiting {perf.waiting_probability:.1%},"
            f" abandonment {perf.abandonment:.1%}, occupancy {perf.occupancy:.1%}"
        )
