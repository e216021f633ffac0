"""Fitting a message into SMS. Pure core: no Django import.

GSM 03.38 text takes 160 characters in one SMS and 153 per part when split;
anything else (emoji, many accents outside the GSM set) is sent as UCS-2: 70
and 67. A call report is summarised to fit the allowed number of parts rather
than cut anywhere.
"""

from __future__ import annotations

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€")  # two septets each


def is_gsm(text: str) -> bool:
    return all(c in GSM_BASIC or c in GSM_EXTENDED for c in text)


def length(text: str) -> int:
    """Length in the unit of its encoding (septets for GSM, UTF-16 code units for UCS-2)."""
    if is_gsm(text):
        return sum(2 if c in GSM_EXTENDED else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def parts(text: str) -> int:
    """How many SMS the text takes."""
    single, multi = (160, 153) if is_gsm(text) else (70, 67)
    n = length(text)
    return 1 if n <= single else -(-n // multi)


def fit(text: str, max_parts: int = 3, keep: str = "") -> str:
    """``text`` (its white space collapsed), cut at a word with an ellipsis if needed so that, followed by
    ``keep`` whole (a link), it takes at most ``max_parts`` SMS. The ellipsis is "..." while the rest is
    GSM text: "…" would make the whole SMS UCS-2, 67 characters a part instead of 153."""
    text = " ".join(text.split())
    if parts(text + keep) <= max_parts:
        return text + keep
    ellipsis = "..." if is_gsm(text + keep) else "…"
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits, with the ellipsis and what is kept
        mid = (low + high + 1) // 2
        if parts(text[:mid].rstrip() + ellipsis + keep) <= max_parts:
            low = mid
        else:
            high = mid - 1
    cut = text[:low]
    if " " in cut[-20:]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:.") + ellipsis + keep
