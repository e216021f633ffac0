"""Call routing (ACD): which secretary gets which waiting call. Pure core: no Django import.

The rules, in order (``docs/architecture.md``):

1. **Skills.** A secretary takes the calls of the accounts they are trained on (each with a level,
   1 to 5); a call that needs a language goes to someone who speaks it. A secretary who let this
   call's offer lapse is offered it again only when nobody else ready can take it (a second chance:
   the caller must not wait while the only secretary who could answer is left out).
2. **Priority.** A call's class is its own (0 normal, 1 urgent account, 2 VIP caller, as the caller
   of this module sets it), plus one once it has waited ``long_wait_seconds``. Higher class first;
   within a class, the longest waiting first.
3. **Best secretary.** Among those who can take the call: the highest level on its account, then the
   longest idle, then the smallest id (deterministic).
4. **Overflow.** A call that has waited its account's ``overflow_after_seconds`` may also go to the
   secretaries of its wider group (e.g. the trade: every legal account's secretaries), at level 0.
5. **Maximum wait.** A call that has waited its account's ``max_wait_seconds`` leaves the queue for
   the account's fallback (voicemail message or call-back task): ``Router.expired``.

``Router`` keeps the queues and the ready secretaries indexed, so that one decision (a secretary
becomes ready, a call arrives) looks only at the heads of the queues the secretary can serve and at
the best ready secretaries of one account: it does not depend on how many calls wait.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

PRIORITY_CLASSES = (0, 1, 2)


@dataclass(frozen=True)
class Policy:
    """Per account (defaults apply to accounts without one)."""

    long_wait_seconds: float = 60.0
    overflow_after_seconds: float | None = 45.0
    max_wait_seconds: float | None = None
    fallback: str = "voicemail"  # or "callback"


@dataclass(frozen=True)
class Secretary:
    id: int
    skills: Mapping[int, int]  # account -> level 1..5
    idle_since: datetime
    groups: frozenset[str] = frozenset()  # wider groups they can take overflow calls of
    languages: frozenset[str] = frozenset({"fr"})


@dataclass(frozen=True)
class Call:
    id: int
    account: int
    queued_at: datetime
    priority: int = 0  # 0 normal, 1 urgent account, 2 VIP caller
    group: str = ""  # the wider group of its account (overflow)
    language: str | None = None
    passed_by: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Fallback:
    call: int
    action: str
    waited_seconds: float


def _in_order(queue: deque[Call], call: Call) -> None:
    """Append in arrival order (calls usually come in order; an older one is put in its place)."""
    position = len(queue)
    while position and (queue[position - 1].queued_at, queue[position - 1].id) > (call.queued_at, call.id):
        position -= 1
    queue.insert(position, call)


class Router:
    def __init__(self, policies: Mapping[int, Policy] | None = None, default: Policy = Policy()) -> None:
        self.policies = dict(policies or {})
        self.default = default
        self.calls: dict[int, Call] = {}
        # per account and per priority class: calls in arrival order (removed ones skipped lazily)
        self._by_account: dict[int, dict[int, deque[Call]]] = {}
        self._by_group: dict[str, dict[int, deque[Call]]] = {}
        self._deadlines: list[tuple[datetime, int]] = []  # max-wait heap
        self.ready: dict[int, Secretary] = {}
        self._ready_by_account: dict[int, list[tuple[int, datetime, int]]] = {}  # heaps, lazy
        self._sequence = itertools.count()

    def policy(self, account: int) -> Policy:
        return self.policies.get(account, self.default)

    # -- calls ------------------------------------------------------------------------------------

    def add_call(self, call: Call) -> None:
        if call.priority not in PRIORITY_CLASSES:
            raise ValueError(f"Priority must be one of {PRIORITY_CLASSES}.")
        self.calls[call.id] = call
        _in_order(self._by_account.setdefault(call.account, {}).setdefault(call.priority, deque()), call)
        if call.group:
            _in_order(self._by_group.setdefault(call.group, {}).setdefault(call.priority, deque()), call)
        limit = self.policy(call.account).max_wait_seconds
        if limit is not None:
            heapq.heappush(self._deadlines, (call.queued_at + timedelta(seconds=limit), call.id))

    def remove_call(self, call_id: int) -> None:
        """Answered elsewhere, hung up, or offered: the queues skip it from now on."""
        self.calls.pop(call_id, None)

    def expired(self, now: datetime) -> list[Fallback]:
        """Calls that reached their account's maximum wait, taken out for the fallback."""
        out = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, call_id = heapq.heappop(self._deadlines)
            call = self.calls.pop(call_id, None)
            if call is not None:
                waited = (now - call.queued_at).total_seconds()
                out.append(Fallback(call_id, self.policy(call.account).fallback, waited))
        return out

    def _class(self, call: Call, now: datetime) -> int:
        waited = (now - call.queued_at).total_seconds()
        return call.priority + (waited >= self.policy(call.account).long_wait_seconds)

    def _queues(self, queues: Mapping[int, deque[Call]]) -> Iterable[deque[Call]]:
        """The non-empty queues of one index, their removed heads dropped."""
        for queue in queues.values():
            while queue and self.calls.get(queue[0].id) is not queue[0]:
                queue.popleft()  # removed meanwhile
            if queue:
                yield queue

    def _first(self, queue: deque[Call], ok: Callable[[Call], bool], limit: int = 16) -> Call | None:
        """The oldest call of a queue that ``ok`` accepts, looking at most ``limit`` calls deep (the
        head is usually it: offers passed and languages are rare)."""
        for call in itertools.islice(queue, limit):
            if self.calls.get(call.id) is call and ok(call):
                return call
        return None

    def _can_take(self, secretary: Secretary, call: Call, second_chance: bool = False) -> bool:
        return (second_chance or secretary.id not in call.passed_by) and (
            call.language is None or call.language in secretary.languages
        )

    def _overflowing(self, call: Call, now: datetime) -> bool:
        overflow = self.policy(call.account).overflow_after_seconds
        return overflow is not None and (now - call.queued_at).total_seconds() >= overflow

    def _rank(self, call: Call, now: datetime) -> tuple[int, datetime, int]:
        return (-self._class(call, now), call.queued_at, call.id)

    def next_call_for(self, secretary: Secretary, now: datetime, second_chance: bool = False) -> Call | None:
        """The call a secretary who becomes ready should take (None: nothing for them); with
        ``second_chance``, calls whose offer she let lapse count too."""
        found: list[Call] = []
        for account in secretary.skills:
            for queue in self._queues(self._by_account.get(account, {})):
                call = self._first(queue, lambda c: self._can_take(secretary, c, second_chance))
                if call is not None:
                    found.append(call)
        for group in secretary.groups:
            for queue in self._queues(self._by_group.get(group, {})):
                call = self._first(
                    queue,
                    lambda c: (
                        c.account not in secretary.skills  # looked at above as a skill
                        and self._overflowing(c, now)
                        and self._can_take(secretary, c, second_chance)
                    ),
                )
                if call is not None:
                    found.append(call)
        return min(found, key=lambda c: self._rank(c, now)) if found else None

    def queue(self, now: datetime) -> list[Call]:
        """Every waiting call in the order the rules serve them (for display: sorts them all)."""
        return sorted(self.calls.values(), key=lambda c: self._rank(c, now))

    # -- secretaries ------------------------------------------------------------------------------

    def set_ready(self, secretary: Secretary) -> None:
        self.ready[secretary.id] = secretary
        for account, level in secretary.skills.items():
            heapq.heappush(
                self._ready_by_account.setdefault(account, []),
                (-level, secretary.idle_since, secretary.id),
            )

    def set_busy(self, secretary_id: int) -> None:
        self.ready.pop(secretary_id, None)

    def next_secretary_for(self, call: Call, now: datetime) -> Secretary | None:
        """The ready secretary a new call should be offered to (None: it waits)."""
        heap = self._ready_by_account.get(call.account, [])
        skipped = []
        found = None
        while heap:
            level, idle, sid = heap[0]
            current = self.ready.get(sid)
            if current is None or current.idle_since != idle or current.skills.get(call.account) != -level:
                heapq.heappop(heap)  # no longer ready, or changed since: stale
                continue
            if self._can_take(current, call):
                found = current
                break
            skipped.append(heapq.heappop(heap))
        for entry in skipped:
            heapq.heappush(heap, entry)
        return found

    # -- a whole round (the desk calls this on every event) -------------------------------------

    def assign(self, now: datetime) -> list[tuple[int, int]]:
        """(call, secretary) offers to make now, highest priority calls first, each to the best ready
        secretary for it; both leave the router's queues. Then, the calls nobody else could take go
        back to a secretary still free who let their offer lapse (a second chance)."""
        offers = self._round(now, second_chance=False)
        return offers + self._round(now, second_chance=True)

    def _round(self, now: datetime, second_chance: bool) -> list[tuple[int, int]]:
        offers = []
        # each ready secretary's best call; after an offer only those whose best it was look again
        best = {sid: self.next_call_for(person, now, second_chance) for sid, person in self.ready.items()}
        while True:
            candidates = {call.id: call for call in best.values() if call is not None}
            if not candidates:
                break
            call = min(candidates.values(), key=lambda c: self._rank(c, now))
            takers = [self.ready[sid] for sid, c in best.items() if c is call]
            chosen = min(takers, key=lambda p: (-p.skills.get(call.account, 0), p.idle_since, p.id))
            offers.append((call.id, chosen.id))
            self.remove_call(call.id)
            self.set_busy(chosen.id)
            del best[chosen.id]
            for person in takers:
                if person.id != chosen.id:
                    best[person.id] = self.next_call_for(person, now, second_chance)
        return offers
