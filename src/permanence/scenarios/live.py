"""The scenario in service, read once: what the editor, the desk and the command line share.

The shared blocks (``models.Block``) expand a scenario the same way everywhere:
``library()`` reads them (a block with errors is left out and named), and
``for_version(version)`` checks and expands a version's text with them. The
result is kept in a small in-process cache keyed by the text's hash and the
library's: a changed block changes the key, so no page works on a stale
expansion, and a desk page does not check the text again on every request.

``in_service(account, entry)`` is the version the last approval put in service
at an entry point of the account; ``resume(run, env)`` resumes a stored run on
its pinned version without ever starting it again from nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from permanence.accounts.models import Account
from permanence.scenarios.engine import checker, model
from permanence.scenarios.engine.problems import Problem, Problems
from permanence.scenarios.engine.runtime import Environment, Resumed, scenario_hash
from permanence.scenarios.engine.runtime import Run as Engine
from permanence.scenarios.models import MAIN_ENTRY, Block, Run, ScenarioVersion, Status

MAX_CACHED = 64


@dataclass(frozen=True)
class Library:
    """The shared blocks as the checker reads them."""

    blocks: Mapping[str, model.Block]
    sources: Mapping[str, str]
    digest: str
    broken: tuple[str, ...]  # blocks left out: their text has errors


@dataclass(frozen=True)
class Live:
    """A version ready to run: its scenario with the shared blocks expanded."""

    version: ScenarioVersion
    scenario: model.Scenario
    digest: str  # the text's hash, and the shared blocks' it uses: what a run is pinned to
    errors: tuple[Problem, ...]  # a version in service has none, unless a shared block changed since

    @property
    def ok(self) -> bool:
        return not self.errors

    def start(self, env: Environment) -> Engine:
        return Engine.start(self.scenario, env, version=self.digest)


_lock = threading.Lock()
_library: Library | None = None
_parsed: OrderedDict[tuple[str, str], tuple[model.Scenario, str, tuple[Problem, ...]]] = OrderedDict()


def _hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def library() -> Library:
    """The shared blocks, read from the database (one query; parsed again only when one changed)."""
    global _library
    rows = list(Block.objects.order_by("name").values_list("name", "source"))
    digest = _hash(*(part for row in rows for part in row))
    with _lock:
        if _library is not None and _library.digest == digest:
            return _library
    blocks: dict[str, model.Block] = {}
    broken: list[str] = []
    for name, text in rows:
        problems = Problems()
        parsed = checker.read_block(text, name, problems)
        if parsed is not None and not problems.errors:
            blocks[name] = parsed
        else:
            broken.append(name)
    found = Library(MappingProxyType(blocks), MappingProxyType(dict(rows)), digest, tuple(broken))
    with _lock:
        _library = found
    return found


def for_version(version: ScenarioVersion) -> Live:
    """A version's scenario, expanded with the shared blocks as they are now (cached)."""
    shared = library()
    key = (scenario_hash(version.source), shared.digest)
    with _lock:
        cached = _parsed.get(key)
        if cached is not None:
            _parsed.move_to_end(key)
    if cached is None:
        result = checker.check(version.source, None, shared.blocks)
        scenario = result.scenario
        uses = {s.block for s in scenario.steps.values() if s.kind == "use"}
        used = sorted((uses - set(scenario.blocks)) & set(shared.blocks))
        digest = key[0] if not used else _hash(version.source, *(shared.sources[n] for n in used))
        cached = (scenario, digest, tuple(result.problems.errors))
        with _lock:
            _parsed[key] = cached
            while len(_parsed) > MAX_CACHED:
                _parsed.popitem(last=False)
    scenario, digest, errors = cached
    return Live(version, scenario, digest, errors)


def in_service(account: Account, entry: str = MAIN_ENTRY) -> Live | None:
    """The version the last approval put in service at this entry point of the account."""
    version = (
        ScenarioVersion.objects.filter(account=account, entry=entry, status=Status.PUBLISHED)
        .select_related("scenario")
        .first()
    )
    return for_version(version) if version is not None else None


def resume(stored: Run, env: Environment) -> Resumed:
    """A stored run on its pinned version: what still applies, and what no longer does (kept)."""
    current = for_version(stored.version)
    return Engine.resume(current.scenario, env, stored.state, version=current.digest)


def clear_cache() -> None:
    global _library
    with _lock:
        _library = None
        _parsed.clear()
