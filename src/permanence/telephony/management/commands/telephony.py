"""permanence telephony: the real telephony's pieces (docs/telephony.md).

config [--out DIR]   write Kamailio's and rtpengine's configuration from the settings (with the
                     trunk's registration table uacreg when TELEPHONY_TRUNK_REGISTRAR is set), and
                     the fallback numbers from the database
reload [--out DIR]   write the fallback numbers (and the trunk's registration) again and have the
                     running Kamailio load them
up [--out DIR]       write it, then run rtpengine and Kamailio in the foreground (development)
run                  the call control: answers the trunk's calls, rings the secretaries' phones
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from permanence.telephony import config, fallback


class Command(BaseCommand):
    help = (
        "Real telephony: write Kamailio's and rtpengine's configuration (config), load the fallback "
        "numbers again (reload), or run them (up)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("run", help="the call control: answers the trunk's calls (Ctrl+C stops)")
        trial = sub.add_parser("call", help="a trial call to NUMBER, as if from the carrier (development)")
        trial.add_argument("number", help="a number of an account, e.g. 0145000001")
        trial.add_argument("--seconds", type=float, default=None, help="hang up after this long")
        trial.add_argument("--from-address", default="", help="the trunk address to call from "
                           "(default: the first of TELEPHONY_TRUNK_ADDRESSES, else 127.0.0.2)")
        for name, text in (
            ("config", "write kamailio.cfg and rtpengine.conf from the settings, the fallback numbers"),
            ("reload", "write the fallback numbers (and the trunk's registration) again, then have the "
                       "running Kamailio load them"),
            ("up", "write the configuration, then run rtpengine, Kamailio and the call control until Ctrl+C"),
        ):
            action = sub.add_parser(name, help=text)
            action.add_argument(
                "--out", type=Path, default=Path(settings.DATA_DIR) / "telephony",
                help="folder for the files written (default: var/telephony)",
            )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "reload":
            self.reload(options["out"])
            return
        if options["action"] == "call":  # needs only where Kamailio listens: no secret
            self.trial(options)
            return
        try:
            layout = config.Layout.from_settings()
        except config.ConfigError as exc:
            raise CommandError(str(exc)) from None
        if options["action"] == "run":
            self.run(layout)
            return
        paths = config.write(layout, options["out"])
        for name, path in paths.items():
            if name == config.UACREG:  # never the password itself: only where it is
                self.stdout.write(
                    f"wrote {path}: Kamailio registers {layout.username} at {layout.registrar} (the "
                    "password is in this file only, readable by its owner)"
                )
            else:
                self.stdout.write(f"wrote {path}")
        self.write_fallbacks(options["out"])
        if options["action"] == "up":
            self.up(layout, paths, options["out"])

    def write_fallbacks(self, folder: Path) -> None:
        """The fallback table from the database: where Kamailio sends the calls the call control
        cannot take (down, stuck, or failing)."""
        from django.db import DatabaseError

        try:
            found = fallback.rows()
        except fallback.FallbackError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(
                f"the fallback numbers cannot be read from the database ({exc}): is it migrated "
                "(permanence migrate)? Kamailio's table of them stays as it was"
            ) from None
        path = fallback.write(folder, found, settings.PHONE_DEFAULT_REGION)
        without = sorted(row.number for row in found if not row.to)
        self.stdout.write(
            f"wrote {path}: {len(found) - len(without)} of {len(found)} numbers have a fallback number"
            + (f" (without one, a caller gets 480 when the call control is down: {', '.join(without)})"
               if without else "")
        )  # fmt: skip

    def reload(self, folder: Path) -> None:
        self.write_fallbacks(folder)
        try:
            fallback.reload(folder / "run" / "kamailio_ctl")
        except fallback.FallbackError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("Kamailio loaded the fallback numbers")
        if settings.TELEPHONY_TRUNK_REGISTRAR:
            self.reload_registration(folder)

    def reload_registration(self, folder: Path) -> None:
        """The trunk's account again (a new password, say): its table, then Kamailio reads it (the
        next challenge is answered with it, the next registration round within 20 s uses it)."""
        try:
            layout = config.Layout.from_settings()
            config.write_registration(layout, folder)
            config.reload_registration(folder / "run" / "kamailio_ctl")
        except config.ConfigError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Kamailio loaded the trunk's account ({layout.username} at {layout.registrar})")

    def up(self, layout: config.Layout, paths: dict[str, Path], folder: Path) -> None:
        missing = [tool for tool in ("kamailio", "rtpengine") if shutil.which(tool) is None]
        if missing:
            raise CommandError(
                f"not installed: {', '.join(missing)} (Debian: apt-get install kamailio "
                "kamailio-websocket-modules rtpengine-daemon)"
            )
        try:
            config.check_kamailio(paths["kamailio.cfg"])
        except config.ConfigError as exc:
            raise CommandError(str(exc)) from None
        commands = [
            ["rtpengine", f"--config-file={paths['rtpengine.conf']}", "--no-fallback"],
            ["kamailio", "-DD", "-E", "-f", str(paths["kamailio.cfg"]), "-Y", str(folder / "run")],
            [sys.executable, "-m", "permanence.cli", "telephony", "run"],  # the call control
        ]
        processes = [subprocess.Popen(command, start_new_session=True) for command in commands]
        self.stdout.write(
            f"rtpengine (ng {layout.ng.host}:{layout.ng.port}), Kamailio (SIP {layout.sip.host}:"
            f"{layout.sip.port}, WebSocket {layout.ws.host}:{layout.ws.port}) and the call control "
            f"({layout.control.host}:{layout.control.port}) are running; Ctrl+C stops them."
        )
        try:
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
            raise CommandError("a telephony process stopped; see its messages above")
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()

    def run(self, layout: config.Layout) -> None:
        import asyncio
        import logging

        from permanence.loops import leadership
        from permanence.telephony.control import CallControl
        from permanence.telephony.ng import Client

        lock = leadership()
        if not lock.hold("telephony-control"):  # its start-up closes the calls other runs left open
            raise CommandError(
                "another call control is already running on this database: one per installation "
                "(stop it first)"
            )
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("permanence.telephony").setLevel(logging.INFO)  # each call, for the operator
        control = CallControl(
            local=(layout.control.host, layout.control.port), proxy=(layout.sip.host, layout.sip.port),
            rtpengine=Client(layout.ng), media_address=layout.media_address,
            domain=settings.TELEPHONY_SIP_DOMAIN,
        )  # fmt: skip

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await control.run(stop)

        self.stdout.write(
            f"call control on {layout.control.host}:{layout.control.port}, Kamailio at {layout.sip.host}:"
            f"{layout.sip.port}, rtpengine at {layout.ng.host}:{layout.ng.port} (Ctrl+C stops)"
        )
        try:
            asyncio.run(main())
        except OSError as exc:
            raise CommandError(f"the call control cannot start: {exc}") from None
        finally:
            lock.close()

    def trial(self, options: dict[str, Any]) -> None:
        import asyncio

        from permanence.telephony.ng import Address
        from permanence.telephony.trial import Trial

        try:
            edge = Address.parse(settings.TELEPHONY_SIP_ADDRESS)
        except ValueError as exc:
            raise CommandError(f"TELEPHONY_SIP_ADDRESS: {exc}") from None
        trunk = settings.TELEPHONY_TRUNK_ADDRESSES
        host = options["from_address"] or (trunk[0] if trunk else "127.0.0.2")
        trial = Trial(options["number"], (edge.host, edge.port), host=host, say=self.stdout.write)
        try:
            code = asyncio.run(trial.run(options["seconds"]))
        except KeyboardInterrupt:
            return
        except OSError as exc:
            raise CommandError(f"the trial call cannot start from {host}: {exc}") from None
        if code:
            raise CommandError("the call was not answered (see above)")
