"""A web process's start (permanence/warmup.py, called by asgi.py and wsgi.py): every template compiles,
then the heap is frozen out of the garbage collector's reach, so that a full collection inside a request
walks only what requests left behind (bench/bench_pages.py: the p99 of every page)."""

from __future__ import annotations

import gc

from django.template import engines
from django.template.loaders.cached import Loader as CachedLoader

from permanence import warmup


def test_every_template_compiles_on_its_own():
    names = warmup.template_names()
    assert "desk/desk.html" in names and "admin/change_list.html" in names  # the project's and the apps'
    assert warmup.compile_templates() == []


def test_the_start_compiles_the_templates_and_freezes_the_heap():
    loader = engines["django"].engine.template_loaders[0]
    assert isinstance(loader, CachedLoader)
    loader.reset()
    try:
        warmup.warm_up()
        assert gc.get_freeze_count() > 10_000
        assert {"desk/desk.html", "scenarios/_mermaid.html"} <= set(loader.get_template_cache)
    finally:
        gc.unfreeze()
