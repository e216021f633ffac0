"""Between a run's screen and an HTML form: the answer posted, the directory matches shown.

Shared by the scenario's test mode and the secretary's desk, which show the same steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from permanence.accounts.models import Account
from permanence.directory import search
from permanence.scenarios import environment


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
    if kind == "ask":  # a known field the form did not send keeps its value; one sent empty is emptied
        return {
            f["name"]: post.get(f["name"], "")
            for f in screen.get("fields", [])
            if f["name"] in post or not f.get("known")
        }
    return {}


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
