"""Short lists kept as comma-separated text (tags, keywords, specialties). Pure."""

from __future__ import annotations

from collections.abc import Iterable


def parse_list(text: str | None, *, lower: bool = False) -> list[str]:
    """Split on commas and semicolons, strip, drop empties and duplicates, keep order."""
    if not text:
        return []
    seen: set[str] = set()
    items: list[str] = []
    for raw in text.replace(";", ",").split(","):
        item = " ".join(raw.split())
        if lower:
            item = item.lower()
        key = item.casefold()
        if item and key not in seen:
            seen.add(key)
            items.append(item)
    return items


def join_list(items: Iterable[str], *, lower: bool = False) -> str:
    return ", ".join(parse_list(",".join(items), lower=lower))
