"""Transfer rules and availability of a collaborator. Pure core: no Django import.

A collaborator's card says whether a call may be put through:

* ``always``;
* ``never`` (take a message);
* ``conditional``: every condition that is set must hold: the local time falls in
  one of the windows, the caller type is one of the listed ones, the call is
  urgent (``urgent_only``). ``urgent_bypass`` lets an urgent call through even
  when the windows or caller types say no.

Absence (leave, meeting...) is checked first: an absent collaborator is not put
through; the replacement, if any, is offered instead.

Caller types are one vocabulary shared by the transfer rules and the scenarios
(``CallerType``: English codes; the French labels live on the Django side).
Words written before the vocabulary existed ("confrère", "fournisseur"...) are
read as their code by ``caller_type_code``; other words are kept and reported,
never dropped.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time


class CallerType(enum.StrEnum):
    """Who is calling: the codes a transfer rule lists and a scenario's caller-type options use."""

    CLIENT = "client"
    PROSPECT = "prospect"
    COLLEAGUE = "colleague"
    SUPPLIER = "supplier"
    COLD_CALLER = "cold_caller"
    JOB_SEEKER = "job_seeker"
    PARTNER = "partner"
    ADMINISTRATION = "administration"
    PRESS = "press"
    PERSONAL = "personal"
    OTHER = "other"


CALLER_TYPES: tuple[str, ...] = tuple(t.value for t in CallerType)

#: words people wrote in the rules and the scenarios (accents, case, plurals and spaces folded)
_CALLER_TYPE_WORDS: dict[str, CallerType] = {
    **{t.value: t for t in CallerType},
    **dict.fromkeys(("clients", "cliente", "clientes", "client_du_cabinet", "client_existant"),
                    CallerType.CLIENT),
    **dict.fromkeys(("prospects", "nouveau_client", "nouveaux_clients", "nouveau_dossier",
                     "nouvelle_affaire"), CallerType.PROSPECT),
    **dict.fromkeys(("confrere", "confreres", "consoeur", "consoeurs", "collegue", "collegues",
                     "colleagues"), CallerType.COLLEAGUE),
    **dict.fromkeys(("fournisseur", "fournisseurs", "prestataire", "prestataires", "suppliers"),
                    CallerType.SUPPLIER),
    **dict.fromkeys(("demarchage", "demarcheur", "demarcheurs", "commercial", "commerciaux",
                     "cold_calling"), CallerType.COLD_CALLER),
    **dict.fromkeys(("candidat", "candidats", "candidate", "candidates", "candidature", "candidatures"),
                    CallerType.JOB_SEEKER),
    **dict.fromkeys(("partenaire", "partenaires", "partners"), CallerType.PARTNER),
    **dict.fromkeys(("administrations", "service_public", "organisme_public"), CallerType.ADMINISTRATION),
    **dict.fromkeys(("presse", "journaliste", "journalistes", "media", "medias"), CallerType.PRESS),
    **dict.fromkeys(("personnel", "perso", "famille", "appel_personnel", "proche", "proches"),
                    CallerType.PERSONAL),
    **dict.fromkeys(("autre", "autres"), CallerType.OTHER),
}


def _fold(word: str) -> str:
    text = word.strip().casefold().replace("œ", "oe").replace("æ", "ae")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "_".join(text.replace("-", " ").replace("'", " ").replace("’", " ").split())


def caller_type_code(word: str | None) -> str | None:
    """The vocabulary's code for a word ("Confrère" -> "colleague"), or None when it is not one."""
    if not word:
        return None
    found = _CALLER_TYPE_WORDS.get(_fold(word))
    return found.value if found else None


def parse_caller_types(text: str | Iterable[str] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Comma-separated words (or a list) as (codes in vocabulary order, unknown words as written)."""
    if not text:
        return (), ()
    words = text.replace(";", ",").split(",") if isinstance(text, str) else list(text)
    codes: set[str] = set()
    unknown: list[str] = []
    for raw in words:
        word = " ".join(raw.split())
        if not word:
            continue
        code = caller_type_code(word)
        if code is not None:
            codes.add(code)
        elif word.casefold() not in {u.casefold() for u in unknown}:
            unknown.append(word)
    return tuple(c for c in CALLER_TYPES if c in codes), tuple(unknown)


class TransferMode(enum.StrEnum):
    ALWAYS = "always"
    CONDITIONAL = "conditional"
    NEVER = "never"


@dataclass(frozen=True)
class Window:
    """A weekly window in local time; ``end`` 00:00 means midnight at the end of the day."""

    weekday: int
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        if local.weekday() != self.weekday:
            return False
        moment = local.time().replace(tzinfo=None)
        return self.start <= moment and (self.end == time(0) or moment < self.end)


@dataclass(frozen=True)
class TransferRule:
    mode: TransferMode = TransferMode.ALWAYS
    windows: tuple[Window, ...] = ()
    caller_types: frozenset[str] = field(default_factory=frozenset)  # CallerType codes
    urgent_only: bool = False
    urgent_bypass: bool = False


@dataclass(frozen=True)
class Absence:
    kind: str
    starts_at: datetime
    ends_at: datetime | None  # None: until further notice
    replacement_id: int | None = None
    note: str = ""

    def covers(self, instant: datetime) -> bool:
        return self.starts_at <= instant and (self.ends_at is None or instant < self.ends_at)


class Verdict(enum.StrEnum):
    PUT_THROUGH = "put_through"
    TAKE_MESSAGE = "take_message"
    ABSENT = "absent"


@dataclass(frozen=True)
class TransferDecision:
    verdict: Verdict
    reasons: tuple[str, ...]  # machine-readable reasons, e.g. ("outside_windows",)
    absence: Absence | None = None
    replacement_id: int | None = None

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.PUT_THROUGH


def current_absence(absences: Iterable[Absence], instant: datetime) -> Absence | None:
    """The absence in force at ``instant``; when several overlap, the one that started last."""
    covering = [a for a in absences if a.covers(instant)]
    return max(covering, key=lambda a: a.starts_at) if covering else None


def decide_transfer(
    rule: TransferRule,
    *,
    local_time: datetime,
    caller_type: str | None = None,
    urgent: bool = False,
    absences: Iterable[Absence] = (),
) -> TransferDecision:
    """May a call be put through to this collaborator now?

    ``local_time`` is the instant in the account's time zone (aware).
    """
    absence = current_absence(absences, local_time)
    if absence is not None:
        return TransferDecision(
            Verdict.ABSENT, ("absent",), absence=absence, replacement_id=absence.replacement_id
        )
    if rule.mode is TransferMode.ALWAYS:
        return TransferDecision(Verdict.PUT_THROUGH, ())
    if rule.mode is TransferMode.NEVER:
        return TransferDecision(Verdict.TAKE_MESSAGE, ("never",))
    failed: list[str] = []
    if rule.windows and not any(w.contains(local_time) for w in rule.windows):
        failed.append("outside_windows")
    if caller_type is not None:
        caller_type = caller_type_code(caller_type) or caller_type
    if rule.caller_types and caller_type not in rule.caller_types:
        failed.append("caller_type")
    if rule.urgent_only and not urgent:
        failed.append("not_urgent")
    if not failed or (urgent and rule.urgent_bypass):
        return TransferDecision(Verdict.PUT_THROUGH, ("urgent_bypass",) if failed else ())
    return TransferDecision(Verdict.TAKE_MESSAGE, tuple(failed))
