"""A web process's start: what every request would otherwise build on its first visit (the URL
resolver, every template compiled, both catalogues), then the heap frozen out of the garbage
collector's reach (``gc.freeze``).

Without it the site's long-lived objects (about 250,000 after a few pages) are walked at each full
collection, which then costs 100-250 ms inside whichever request triggers it: the p99 of every page
(``bench/bench_pages.py``). Frozen, a full collection walks only what requests leave behind."""

from __future__ import annotations

import gc
from pathlib import Path

from django.conf import settings
from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines
from django.template.loader import get_template
from django.template.utils import get_app_template_dirs
from django.urls import get_resolver
from django.utils import translation


def template_names() -> list[str]:
    """Every template the Django engine can find: the project's, then the apps' (the admin's...)."""
    engine = engines["django"].engine  # type: ignore[attr-defined]
    names: list[str] = []
    for base in [*engine.dirs, *get_app_template_dirs("templates")]:
        root = Path(base)
        names += sorted(str(path.relative_to(root)) for path in root.rglob("*.html"))
    return names


def compile_templates() -> list[tuple[str, str]]:
    """Compile every template into the cached loader; the ones that do not compile on their own, with why
    (an app's fragment meant for another engine or another app's tags)."""
    failed = []
    for name in template_names():
        try:
            get_template(name)
        except (TemplateSyntaxError, TemplateDoesNotExist) as exc:
            failed.append((name, str(exc)))
    return failed


def warm_up() -> None:
    get_resolver().reverse_dict  # noqa: B018  (populates the URL patterns)
    compile_templates()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Permanence")  # loads the catalogue
    gc.collect()
    gc.freeze()
