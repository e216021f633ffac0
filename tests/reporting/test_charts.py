"""The SVG chart: bars in proportion, whole-number ticks for small counts, text alternatives."""

from __future__ import annotations

import re

from permanence.reporting import charts


def test_bars_ticks_and_titles():
    svg = charts.volume_chart(
        [charts.Point("08:00", 3, 2, 0.5, "8 h: 3 + 2"), charts.Point("09:00", 1, 0, None)], "Appels <test>"
    )
    assert svg.startswith("<svg") and 'aria-label="Appels &lt;test&gt;"' in svg
    ticks = re.findall(r'class="axis" text-anchor="end">([^<]+)<', svg)
    assert ticks == ["0", "1", "2", "3", "4", "5"]  # whole numbers for small counts
    heights = [
        float(h) for h in re.findall(r'class="answered"[^>]*|height="([0-9.]+)" class="answered"', svg) if h
    ]
    assert heights[0] == 3 * heights[1]  # 3 answered against 1
    assert "<title>8 h: 3 + 2</title>" in svg
    assert charts.volume_chart([], "x") == ""
    big = charts.volume_chart([charts.Point("a", 730, 20)], "x")
    assert re.findall(r'text-anchor="end">([^<]+)<', big) == ["0", "250", "500", "750", "1000"]


def test_one_series_of_bars():
    svg = charts.bar_chart([("lun.", 4, "lundi 9:00: 4"), ("", 1, "lundi 9:30: 1"), ("", 0, "")], "Agents")
    heights = [float(h) for h in re.findall(r'height="([0-9.]+)" class="answered"', svg)]
    assert heights[0] == 4 * heights[1] and heights[2] == 0
    assert re.findall(r'text-anchor="end">([^<]+)<', svg) == ["0", "1", "2", "3", "4", "5"]
    assert "<title>lundi 9:00: 4</title>" in svg and ">lun.</text>" in svg
    assert charts.bar_chart([], "x") == ""


def test_diverted_calls_are_stacked_on_top():
    svg = charts.volume_chart(
        [charts.Point("09:00", 4, 2, None, diverted=2), charts.Point("10:00", 8, 0)], "x"
    )
    answered, abandoned, diverted = (
        [float(h) for h in re.findall(rf'height="([0-9.]+)" class="{name}"', svg)]
        for name in ("answered", "abandoned", "diverted")
    )
    assert diverted == [abandoned[0]] and answered[0] == 2 * diverted[0]  # 4, 2, 2 on one bar
    assert answered[0] + abandoned[0] + diverted[0] == answered[1]  # 8 calls each way
