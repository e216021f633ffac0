"""The softphone's SIP library is vendored, never fetched from a CDN: JsSIP bundled once with esbuild
(the npm package ships no browser build), its bytes pinned, its licences beside it."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "src/permanence/static/vendor/jssip"


def test_the_bundle_is_the_one_pinned_with_its_licences():
    version = (VENDOR / "VERSION").read_text()
    assert version.startswith("jssip 3.13.8") and "esbuild@0.28.2" in version
    pinned = re.findall(r"^sha256 ([0-9a-f]{64}) (\S+)$", version, re.MULTILINE)
    assert pinned == [(hashlib.sha256((VENDOR / "jssip.min.js").read_bytes()).hexdigest(), "jssip.min.js")]
    assert "MIT" in (VENDOR / "LICENSE").read_text()
    bundled = re.findall(r"^bundled: (\S+) ", version, re.MULTILINE)
    licences = (VENDOR / "THIRD-PARTY-LICENSES").read_text()
    assert bundled and all(f"== {name} " in licences for name in bundled)


def test_the_bundle_defines_jssip_and_loads_nothing_from_elsewhere():
    text = (VENDOR / "jssip.min.js").read_text()
    assert text.startswith("\"use strict\";var JsSIP=") and "WebSocketInterface" in text
    assert not re.search(r"(import\(|importScripts|<script)", text)
