"""The published JSON Schema (docs/scenario.schema.json) accepts the library and refuses bad shapes."""

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from scenario_helpers import typed

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "scenario.schema.json").read_text(encoding="utf-8"))
LIBRARY = ROOT / "src" / "permanence" / "scenarios" / "library"


def test_schema_is_valid():
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.yaml")), ids=lambda p: p.stem)
def test_library_matches_the_schema(path):
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CBaseLoader)  # keys as written
    errors = [e.message for e in Draft202012Validator(SCHEMA).iter_errors(typed(document))]
    assert errors == []


@pytest.mark.parametrize("bad", [
    {"title": "T", "start": "a", "steps": {"a": {"say": "x"}}},  # say needs next
    {"title": "T", "start": "a", "steps": {"a": {"end": "goodbye"}}},
    {"title": "T", "start": "a", "steps": {"a": {"transfer": "x", "on": {"maybe": "a"}}}},
    {"title": "T", "start": "a", "steps": {}, "colour": "red"},
])
def test_schema_refuses_bad_shapes(bad):
    assert list(Draft202012Validator(SCHEMA).iter_errors(bad))
