"""Quality scorecards (grille d'écoute): a supervisor rates a sample of each secretary's calls against a
few criteria; a call's score is the points it got over the points it could get on the criteria that
applied, weighted. Plus the sample itself: which calls to review, the same for everyone who asks in a
given week, spread fairly across the secretaries.

Pure Python (no Django): the ``reporting`` app stores the reviews and shows the scores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

#: a criterion's rating: 0 missed, 1 partly, 2 done; None: did not apply to this call
RATINGS = (0, 1, 2)
TOP = max(RATINGS)


class ScorecardError(ValueError):
    """A rating that is not one (an unknown criterion, a value outside 0-2)."""


@dataclass(frozen=True)
class Criterion:
    code: str
    weight: int
    #: missed (0) on a call fails the whole call (score 0), whatever the rest
    critical: bool = False


#: the grid: how the call was greeted, whether the caller was identified, whether the scenario was
#: followed, whether the message is complete and exact, courtesy and close. A wrong or incomplete
#: message fails the call: it is what the client receives.
CRITERIA: tuple[Criterion, ...] = (
    Criterion("greeting", 1),
    Criterion("identification", 1),
    Criterion("scenario", 2),
    Criterion("message", 2, critical=True),
    Criterion("courtesy", 1),
)
BY_CODE = {c.code: c for c in CRITERIA}


@dataclass(frozen=True)
class Score:
    points: int
    out_of: int
    failed_on: tuple[str, ...]  # critical criteria missed

    @property
    def percent(self) -> float | None:
        """0-100, or None when no criterion applied."""
        if self.out_of == 0:
            return None
        return 0.0 if self.failed_on else 100.0 * self.points / self.out_of


def check(ratings: Mapping[str, int | None]) -> dict[str, int | None]:
    """The ratings with every criterion present (None where not given); ScorecardError otherwise."""
    unknown = sorted(set(ratings) - set(BY_CODE))
    if unknown:
        raise ScorecardError(f"unknown criteria: {', '.join(unknown)}")
    checked: dict[str, int | None] = {}
    for criterion in CRITERIA:
        value = ratings.get(criterion.code)
        if value is not None and (isinstance(value, bool) or value not in RATINGS):
            raise ScorecardError(f"{criterion.code}: a rating is 0, 1 or 2 (or none)")
        checked[criterion.code] = value
    return checked


def score(ratings: Mapping[str, int | None]) -> Score:
    checked = check(ratings)
    points = out_of = 0
    failed = []
    for criterion in CRITERIA:
        value = checked[criterion.code]
        if value is None:
            continue
        points += criterion.weight * value
        out_of += criterion.weight * TOP
        if criterion.critical and value == 0:
            failed.append(criterion.code)
    return Score(points, out_of, tuple(failed))


@dataclass(frozen=True)
class Summary:
    reviews: int
    mean: float | None  # mean percent over the reviews that had one
    failed: int  # reviews failed on a critical criterion


def summarise(scores: Iterable[Score]) -> Summary:
    rated = list(scores)
    percents = [p for p in (s.percent for s in rated) if p is not None]
    return Summary(len(rated), sum(percents) / len(percents) if percents else None,
                   sum(1 for s in rated if s.failed_on))


def sample(calls: Sequence[tuple[int, int]], per_secretary: int, seed: str) -> list[int]:
    """From (call id, secretary id) pairs, up to ``per_secretary`` calls of each secretary: the same pick
    for the same seed (e.g. the ISO week) whoever asks and in whatever order the calls come, each call
    equally likely to be picked. Returned in call order."""
    if per_secretary < 0:
        raise ValueError("per_secretary must be zero or more")

    def draw(call_id: int) -> bytes:
        return hashlib.sha256(f"{seed}:{call_id}".encode()).digest()

    by_secretary: dict[int, list[int]] = {}
    for call_id, secretary_id in calls:
        by_secretary.setdefault(secretary_id, []).append(call_id)
    picked = [call_id for ids in by_secretary.values()
              for call_id in sorted(set(ids), key=draw)[:per_secretary]]
    return sorted(picked)
