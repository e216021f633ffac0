"""Static files as `permanence collectstatic` writes them for several nodes (STATIC_COLLECTED=1)."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


def _pattern(entry: str | tuple[str, str]) -> str:
    return entry if isinstance(entry, str) else entry[0]


class CollectedStaticStorage(CompressedManifestStaticFilesStorage):
    """Names with a hash of the content, compressed copies beside them. A source-map comment is left as
    it is: vendored files (Swagger UI's stylesheet) name maps that are not shipped, and a browser only
    asks for one when its developer tools are open."""

    patterns = tuple(
        (extension, tuple(entry for entry in entries if "sourceMappingURL" not in _pattern(entry)))
        for extension, entries in CompressedManifestStaticFilesStorage.patterns
    )
