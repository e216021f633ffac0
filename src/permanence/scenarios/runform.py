"""Between a run's screen and an HTML form: the answer posted, the directory matches shown.

Shared by the scenario's test mode and the secretary's desk, which show the same steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from permanence.accounts.models import Account, IdentityField
from permanence.directory import search
from permanence.scenarios import environment
from permanence.scenarios.engine import identity

#: the identity answers in the form: ``identity_<field>``, never shown again, never in an error report
IDENTITY_PREFIX = "identity_"
IDENTITY_POST_NAMES = tuple(IDENTITY_PREFIX + key for key in identity.KINDS)


def answer_from_post(post: Mapping[str, Any], screen: Mapping[str, Any]) -> dict[str, Any]:
    """The answer to the current step, read from the posted form."""
    kind = screen.get("kind")
    if kind in ("transfer", "appointment"):
        answer = {"result": post.get("result", "")}
        if kind == "appointment" and post.get("slot"):
            answer["slot"] = post["slot"]
        return answer
    if kind == "lookup":
        return {"person": post.get("person") or None}
    if kind == "verify":  # a button: go on without checking (or, simulated, the outcome); else the answers
        if post.get("result") in identity.RESULTS:
            return {"result": post["result"]}
        return {
            f["name"]: post.get(IDENTITY_PREFIX + f["name"], "")
            for f in (screen.get("identity") or {}).get("fields", [])
        }
    if kind == "ask":  # a known field the form did not send keeps its value; one sent empty is emptied
        return {
            f["name"]: post.get(f["name"], "")
            for f in screen.get("fields", [])
            if f["name"] in post or not f.get("known")
        }
    return {}


def identity_screen(screen: dict[str, Any], errors: Mapping[str, str] | None = None) -> None:
    """An identity check's questions with their labels and errors, for the form (nothing typed is kept)."""
    check = screen.get("identity")
    if screen.get("kind") != "verify" or not check:
        return
    errors = errors or {}
    labels = dict(IdentityField.choices)
    for f in check["fields"]:
        f["label"] = str(labels.get(f["name"], f["name"]))
        f["input"] = IDENTITY_PREFIX + f["name"]
        f["error"] = errors.get(f["name"], "")
    check["error"] = errors.get("", "") or errors.get("result", "")


def people(env: Any) -> list[tuple[str, str]]:
    """The directory as (ref, name) choices, by name: the list beside the search box."""
    return sorted(((ref, person.name) for ref, person in env.people.items()), key=lambda item: item[1])


def lookup_matches(account: Account, screen: Mapping[str, Any], query: str) -> list[search.Match]:
    """The directory search of a lookup step (empty at any other step or without a query)."""
    if not query or screen.get("kind") != "lookup":
        return []
    return search.search(
        environment.directory_entries(account),
        query,
        by=screen.get("by", "any"),
        service=screen.get("service", ""),
    )
