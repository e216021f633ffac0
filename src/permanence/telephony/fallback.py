"""Where a trunk call goes when Permanence's call control cannot take it: Kamailio's fallback table.

When the call control is down, stuck, or answers 5xx, Kamailio forwards the call itself, through the
carrier's gateway, to the fallback number of the number called (kamailio.cfg, ``CONTROL_FAILED``).
It finds that number in a hash table (module htable) loaded from a db_text table written here, next
to ``kamailio.cfg``:

- ``rows()`` reads the database: for each account's number in service (``released_at`` empty), the
  account's on-call number, else the setting TELEPHONY_FALLBACK_NUMBER, else none (Kamailio then
  answers ``480`` and the carrier plays its own announcement);
- ``write(folder, rows, region)`` writes the table, each number under every spelling a carrier may put
  in the request URI (E.164, without "+", with "00", national);
- ``reload(socket)`` asks the running Kamailio to read it again (``kamcmd htable.reload``), as
  ``permanence telephony reload`` does when numbers change.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from permanence.accounts import phones

TABLE = "fallback"  # the db_text file (in the folder of kamailio.cfg) and the htable's name
# htable's columns (its defaults); key_type 0: a plain key, value_type 0: a string value
COLUMNS = "id(int,auto) key_name(str) key_type(int) value_type(int) key_value(str) expires(int)"
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


class FallbackError(ValueError):
    """The fallback table cannot be written or reloaded, said in words."""


@dataclass(frozen=True)
class Fallback:
    number: str  # the account's number (E.164): the number the carrier's caller dialled
    to: str  # where Kamailio sends the call (E.164); empty: nowhere, the caller gets 480
    account: str  # the account's short name, for the operator's eyes


def rows() -> list[Fallback]:
    """Each account's number in service with its fallback, from the database and the settings."""
    from django.conf import settings

    from permanence.accounts.models import PhoneNumber

    region = settings.PHONE_DEFAULT_REGION
    default = ""
    if settings.TELEPHONY_FALLBACK_NUMBER:
        default = phones.try_normalize(settings.TELEPHONY_FALLBACK_NUMBER, region) or ""
        if not default:
            raise FallbackError(
                f"TELEPHONY_FALLBACK_NUMBER={settings.TELEPHONY_FALLBACK_NUMBER!r} is not a phone number: "
                "write it in E.164, e.g. +33612345678 (or leave it empty)"
            )
    numbers = PhoneNumber.objects.filter(released_at__isnull=True).select_related("account")
    found = []
    for number in numbers.order_by("number"):
        did = phones.try_normalize(number.number, region)
        if did is None:
            continue
        on_call = phones.try_normalize(number.account.on_call_number, region)
        found.append(Fallback(did, on_call or default, number.account.slug))
    return found


def spellings(e164: str, region: str) -> list[str]:
    """How a carrier may write ``e164`` in the request URI: as is, without "+", with "00", and in the
    national form when that form, read in ``region``, is the same number (0145000001 in France)."""
    digits = e164.removeprefix("+")
    forms = [e164, digits, "00" + digits]
    try:
        national = phonenumbers.format_number(phonenumbers.parse(e164, None), PhoneNumberFormat.NATIONAL)
    except NumberParseException:
        national = ""
    national = re.sub(r"[^0-9]", "", national)
    if national and phones.try_normalize(national, region) == e164:
        forms.append(national)
    return list(dict.fromkeys(forms))


def render(found: Iterable[Fallback], region: str) -> str:
    """The db_text table: its columns, then one row per spelling of each number with a fallback."""
    lines = [COLUMNS]
    for row in found:
        if not row.to:
            continue
        if not (_E164.fullmatch(row.number) and _E164.fullmatch(row.to)):  # db_text's ':' aside
            raise FallbackError(f"{row.account}: {row.number} -> {row.to!r} is not E.164")
        for key in spellings(row.number, region):
            lines.append(f"{len(lines)}:{key}:0:0:{row.to}:0")
    return "\n".join(lines) + "\n"


def write(folder: Path, found: Iterable[Fallback], region: str) -> Path:
    """Write the table in ``folder`` (atomically: Kamailio may be reading it); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TABLE
    before = path.stat().st_mtime_ns if path.exists() else 0
    partial = folder / f".{TABLE}.new"
    partial.write_text(render(found, region), encoding="utf-8")
    os.replace(partial, path)
    # db_text reads a table again only if its modification time, in whole seconds, went forward:
    # two writes within the same second would leave the first one in Kamailio's memory
    second = 1_000_000_000
    if before and path.stat().st_mtime_ns // second <= before // second:
        later = (before // second + 1) * second
        os.utime(path, ns=(later, later))
    return path


def ensure(folder: Path) -> Path:
    """The table, written empty if there is none yet (Kamailio will not start without it)."""
    path = folder / TABLE
    if not path.exists():
        write(folder, [], "")
    return path


def reload(socket: Path) -> None:
    """Ask the Kamailio listening on the control ``socket`` to load the table again."""
    kamcmd = shutil.which("kamcmd")
    if kamcmd is None:
        raise FallbackError("kamcmd is not installed (Debian: apt-get install kamailio)")
    if not socket.exists():
        raise FallbackError(f"Kamailio is not running: no control socket {socket}")
    done = subprocess.run([kamcmd, "-s", f"unix:{socket}", "htable.reload", TABLE],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    if done.returncode != 0 or "error" in done.stdout.lower():
        said = (done.stderr or done.stdout).strip()[-1000:]
        raise FallbackError(f"Kamailio did not reload the fallback table: {said}")
