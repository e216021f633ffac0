"""The identity check of a scenario (``verify``): the caller's answers compared with what the account keeps.

Pure core: no Django import. The engine never holds the stored values: the Django side prepares a
``Verifier`` from the caller's contact, which keeps only keyed digests of the normalised values (a random
key per verifier, so a digest says nothing outside it), and compares the digests of the typed answers in
constant time (``hmac.compare_digest``), every answer compared whatever the others give. ``Simulated``
stands for it where no contact is read (the scenario's test mode, the command line): the secretary says
the outcome.

Answers are normalised before the comparison: a date in any common French writing (24/12/1980,
24.12.80, 24 12 1980, 24121980, 1980-12-24, « 24 décembre 1980 », « 1er janv. 1980 »), a file number
without case, spaces, dashes, dots or slashes, a postcode without spaces, a name without case,
accents, hyphens or apostrophes, an e-mail address without case.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Protocol

#: the identity fields a scenario may ask, and how each is compared
KINDS: dict[str, str] = {
    "file_number": "code",
    "birth_date": "date",
    "postcode": "postcode",
    "last_name": "name",
    "first_name": "name",
    "company": "name",
    "email": "email",
}
DEFAULT_ATTEMPTS = 3
MAX_ATTEMPTS = 5
MAX_ANSWER = 200

#: what the engine stores of an attempt: never what was typed
VERIFIED, FAILED, NOT_VERIFIED = "verified", "failed", "not_verified"
RESULTS = (VERIFIED, FAILED, NOT_VERIFIED)

_MONTHS = {
    "janvier": 1, "janv": 1, "jan": 1,
    "fevrier": 2, "fevr": 2, "fev": 2, "fevrie": 2,
    "mars": 3, "mar": 3,
    "avril": 4, "avr": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7, "juil": 7,
    "aout": 8,
    "septembre": 9, "sept": 9, "sep": 9,
    "octobre": 10, "oct": 10,
    "novembre": 11, "nov": 11,
    "decembre": 12, "dec": 12,
}  # fmt: skip
_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_ISO = re.compile(r"^(\d{4})[-/. ](\d{1,2})[-/. ](\d{1,2})$")
_NUMERIC = re.compile(r"^(\d{1,2})\s*[-/. ]\s*(\d{1,2})\s*[-/. ]\s*(\d{2}|\d{4})$")
_PACKED = re.compile(r"^(\d{2})(\d{2})(\d{2}|\d{4})$")
_WORDS = re.compile(r"^(\d{1,2})\s*([a-z]+)\.?\s*(\d{2}|\d{4})$")
_CODE_SEPARATORS = re.compile(r"[\s\-./_]+")


class IdentityInputError(ValueError):
    """An answer that cannot be read (not a date...): said to the secretary, no attempt counted."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _fold(text: str) -> str:
    """Lower case, no accents, œ and æ spelt out, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("œ", "oe").replace("æ", "ae")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.split())


def _year(text: str, today: date | None) -> int:
    year = int(text)
    if len(text) == 4:
        return year
    if today is None:  # a two-digit year needs today's date to know its century
        raise IdentityInputError("identity_bad_date")
    return 2000 + year if 2000 + year <= today.year else 1900 + year  # a birth date is in the past


def normalise_date(text: str, today: date | None = None) -> str:
    """A date written the French way (or ISO) as ISO 8601; IdentityInputError when it is not one."""
    folded = _fold(text).replace("1er", "1").replace(",", " ")
    words = folded.split()
    if words and words[0] in _WEEKDAYS:
        folded = " ".join(words[1:])
    try:
        if match := _ISO.match(folded):
            return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
        for pattern in (_NUMERIC, _PACKED):
            if match := pattern.match(folded):
                return date(_year(match[3], today), int(match[2]), int(match[1])).isoformat()
        if (match := _WORDS.match(folded)) and match[2] in _MONTHS:
            return date(_year(match[3], today), _MONTHS[match[2]], int(match[1])).isoformat()
    except ValueError:  # 31/02, month 13...
        raise IdentityInputError("identity_bad_date") from None
    raise IdentityInputError("identity_bad_date")


def normalise(key: str, text: str, today: date | None = None) -> str:
    """An answer (or a stored value) as it is compared; IdentityInputError when it cannot be read."""
    kind = KINDS.get(key, "name")
    if any(ord(c) < 32 for c in text):
        raise IdentityInputError("bad_characters")
    if kind == "date":
        return normalise_date(text, today)
    if kind == "code":
        out = _CODE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text).casefold())
    elif kind == "postcode":
        out = "".join(unicodedata.normalize("NFKC", text).upper().replace("-", " ").split())
    elif kind == "email":
        out = unicodedata.normalize("NFKC", text).strip().casefold()
    else:  # a name: accents, case, hyphens and apostrophes do not count
        out = " ".join(re.sub(r"[-'’‘`´.]", " ", _fold(text)).split())
    if not out:
        raise IdentityInputError("required")
    return out


class IdentityCheck(Protocol):
    """What a run is given to check an identity: the questions, a reader and a comparison."""

    #: the account's identity questions (what ``verify: identity`` asks)
    keys: tuple[str, ...]
    #: the secretary says the outcome (test mode, command line): nothing is compared
    simulated: bool

    def normalise(self, key: str, text: str) -> str: ...

    def matches(self, answers: Mapping[str, str]) -> bool:
        """Do these normalised answers match, all of them?"""


class Verifier:
    """Prepared from a contact's stored values (``stored``: key -> value as kept): keeps only a keyed digest
    of each normalised value. A value the contact does not have, or cannot be read, matches nothing."""

    simulated = False

    def __init__(self, keys: Iterable[str], stored: Mapping[str, str | None], *,
                 today: date | None = None) -> None:
        self.keys = tuple(dict.fromkeys(k for k in keys if k in KINDS))
        self.today = today
        self._secret = secrets.token_bytes(32)
        self._digests: dict[str, bytes] = {}
        for key in KINDS:
            value = stored.get(key)
            normal = None
            if isinstance(value, str) and value.strip():
                try:
                    normal = normalise(key, value, today)
                except IdentityInputError:
                    normal = None
            # nothing kept: a random digest, which no answer has
            self._digests[key] = self._digest(key, normal) if normal is not None else secrets.token_bytes(32)

    def __repr__(self) -> str:
        return f"Verifier(keys={self.keys!r})"  # never a digest

    def _digest(self, key: str, normal: str) -> bytes:
        return hmac.new(self._secret, f"{key}\x00{normal}".encode(), hashlib.sha256).digest()

    def normalise(self, key: str, text: str) -> str:
        return normalise(key, text, self.today)

    def matches(self, answers: Mapping[str, str]) -> bool:
        ok = bool(answers)
        for key, normal in answers.items():
            expected = self._digests.get(key) or secrets.token_bytes(32)
            ok &= hmac.compare_digest(expected, self._digest(key, normal))  # no early way out
        return ok


class Simulated:
    """No contact is read: the secretary says whether the answers were right (test mode, command line)."""

    simulated = True

    def __init__(self, keys: Iterable[str] = (), *, today: date | None = None) -> None:
        self.keys = tuple(dict.fromkeys(k for k in keys if k in KINDS))
        self.today = today

    def normalise(self, key: str, text: str) -> str:
        return normalise(key, text, self.today)

    def matches(self, answers: Mapping[str, str]) -> bool:
        return False
