"""Finding "the person who matches the need" in a directory. Pure core: no Django import.

By name, spelling and accents do not matter ("Benali" finds "Bénali", "Durant"
finds "Durand"); by need, the caller's words are matched against services,
specialties and keywords ("divorce" finds the family lawyer).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz
from unidecode import unidecode

NAME_THRESHOLD = 75.0
NEED_THRESHOLD = 80.0
_WORD = re.compile(r"[a-z0-9]+")
STOP_WORDS = frozenset(
    {
        "de",
        "du",
        "des",
        "la",
        "le",
        "les",
        "l",
        "d",
        "un",
        "une",
        "et",
        "pour",
        "a",
        "au",
        "aux",
        "en",
        "maitre",
        "me",
        "dr",
        "docteur",
        "monsieur",
        "madame",
        "m",
        "mme",
    }
)


def fold(text: str) -> str:
    """Lower case, accents and punctuation removed: "Maître Bénali-Séverin" → "maitre benali severin"."""
    return " ".join(_WORD.findall(unidecode(text).lower()))


@dataclass(frozen=True)
class Entry:
    ref: str
    name: str  # as displayed: "Maître Claire Durand"
    first_name: str = ""
    last_name: str = ""
    aliases: tuple[str, ...] = ()
    service: str = ""
    specialties: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        forms = {
            fold(self.name),
            fold(f"{self.first_name} {self.last_name}"),
            fold(self.last_name),
            fold(f"{self.last_name} {self.first_name}"),
            *(fold(a) for a in self.aliases),
        }
        return tuple(f for f in forms if f)

    def needs(self) -> tuple[str, ...]:
        return tuple(f for f in (fold(t) for t in (self.service, *self.specialties, *self.keywords)) if f)


@dataclass(frozen=True)
class Match:
    ref: str
    name: str
    score: float
    why: str  # "name", or the service, specialty or keyword that matched


def _words(text: str) -> list[str]:
    return [w for w in fold(text).split() if w not in STOP_WORDS]


def search(
    entries: Iterable[Entry], query: str, *, by: str = "any", service: str = "", limit: int = 5
) -> list[Match]:
    """The best matches for ``query``, best first (by name, by need, or both)."""
    query_folded = " ".join(_words(query))
    if not query_folded:
        return []
    wanted_service = fold(service)
    best: dict[str, Match] = {}
    for entry in entries:
        if wanted_service and fold(entry.service) != wanted_service:
            continue
        candidates: list[Match] = []
        if by in ("name", "any"):
            score = max((fuzz.WRatio(query_folded, n) for n in entry.names()), default=0.0)
            if score >= NAME_THRESHOLD:
                candidates.append(Match(entry.ref, entry.name, float(score), "name"))
        if by in ("need", "any"):
            for need, original in zip(
                entry.needs(), (entry.service, *entry.specialties, *entry.keywords), strict=False
            ):
                score = _need_score(query_folded, need)
                if score >= NEED_THRESHOLD:
                    candidates.append(Match(entry.ref, entry.name, score - 1.0, original))
        if candidates:
            top = max(candidates, key=lambda m: m.score)
            if entry.ref not in best or top.score > best[entry.ref].score:
                best[entry.ref] = top
    return sorted(best.values(), key=lambda m: (-m.score, m.name))[:limit]


def _need_score(query: str, need: str) -> float:
    """How well the caller's words name this need: whole phrase, or any significant word of it."""
    whole = fuzz.token_set_ratio(query, need)
    words = [w for w in need.split() if w not in STOP_WORDS and len(w) > 3]
    per_word = max((fuzz.ratio(q, w) for q in query.split() if len(q) > 3 for w in words), default=0.0)
    return float(max(whole, per_word))
