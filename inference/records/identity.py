"""Identity-document and personal ID numbers: cleaned, classified by format and checked.

Formats (the number alone says which; the document type column is cross-checked by the record rules):

| format | layout | documents (LoaiGiayToTuyThan) |
|---|---|---|
| ``cmnd`` | 9 digits | 1 Giấy CMND |
| ``digits12`` | 12 digits, the first three a province code | 4 CCCD, 1 CMND (12-digit cards), personal ID |
| ``passport`` | a letter and 7 digits; foreign: 6-9 letters and digits | 2 Hộ chiếu |
| ``residence_card`` | ``TT`` / ``TTR`` and 6 digits | 3 Thẻ thường trú |
| ``service_card`` | 6-8 digits | 5-7 army / officer / police cards |
| ``entry_number``, ``short_number`` | ``125/2008``, ``125`` | 8 other documents (a birth certificate's entry number) |
"""
from __future__ import annotations

import re
from functools import lru_cache

from data.charset import normalize_text
from data.text.places import gazetteer
from inference.records.dates import _CONFUSABLE_CHARS, _CONFUSABLE_DIGITS
from inference.records.normalized import Normalized

_LABEL = re.compile(r"^(?:số|so|no|sô)\s*[.:]?\s*", re.IGNORECASE)
_FORMATS = (
    ("cmnd", re.compile(r"\d{9}")),
    ("digits12", re.compile(r"\d{12}")),
    ("passport", re.compile(r"[A-Z]\d{7}")),
    ("residence_card", re.compile(r"TTR?\d{6}")),
    ("service_card", re.compile(r"\d{6,8}")),
    ("entry_number", re.compile(r"\d{1,6}/\d{2,4}")),
    ("foreign_passport", re.compile(r"(?=(?:.*\d){4})(?=.*[A-Z])[A-Z0-9]{6,9}")),
    ("short_number", re.compile(r"\d{1,5}")),
)
# Which formats each LoaiGiayToTuyThan code accepts (8 "giấy tờ khác" accepts anything).
FORMATS_BY_DOCUMENT: dict[int, frozenset[str]] = {
    1: frozenset({"cmnd", "digits12"}),
    2: frozenset({"passport", "foreign_passport"}),
    3: frozenset({"residence_card", "service_card"}),
    4: frozenset({"digits12"}),
    5: frozenset({"service_card", "cmnd"}),
    6: frozenset({"service_card", "cmnd"}),
    7: frozenset({"service_card", "cmnd"}),
}


@lru_cache(maxsize=1)
def province_codes() -> frozenset[int]:
    return frozenset(p.code for p in gazetteer().provinces)


def clean_number(text: str) -> str:
    """Upper case, the "Số" label and the spaces, dots and dashes officers group digits with removed."""
    s = _LABEL.sub("", normalize_text(text)).upper()
    return re.sub(r"[\s.\-]", "", s)


def number_format(value: str) -> str | None:
    """The format name of a cleaned number (see the module table), or ``None``."""
    for name, pattern in _FORMATS:
        if pattern.fullmatch(value):
            return name
    return None


_UPPER_CONFUSABLE = {"L": "1"}  # a handwritten "l" read as a letter, after clean_number's upper-casing


def _fix(value: str) -> str:
    if sum(c.isdigit() for c in value) < 0.6 * len(value):
        return value
    return "".join(_UPPER_CONFUSABLE.get(c) or (c.translate(_CONFUSABLE_DIGITS) if c in _CONFUSABLE_CHARS else c)
                   for c in value)


def normalize_id_number(text: str, document_type: int | None = None) -> Normalized:
    """A document number → the cleaned number; ``id_number_format`` when it fits no known layout,
    ``id_number_province`` for a 12-digit number without a province code. ``document_type`` (the
    LoaiGiayToTuyThan code of the same person, when read) 8 "giấy tờ khác" accepts any number."""
    raw = normalize_text(text)
    if not raw:
        return Normalized(None, 1.0, ("empty",))
    value = clean_number(raw)
    if document_type == 8:
        if any(c.isdigit() for c in value):
            return Normalized(re.sub(r"^(?:SỐ|SO)\s*", "", normalize_text(raw).upper()), 1.0, ())
        return Normalized(value, 0.5, ("id_number_format",))
    flags: list[str] = []
    score = 1.0
    fmt = number_format(value)
    if fmt in (None, "foreign_passport"):
        fixed = _fix(value)
        fixed_fmt = number_format(fixed)
        if fixed != value and fixed_fmt in ("cmnd", "digits12", "service_card"):
            value, fmt, score = fixed, fixed_fmt, 0.85
            flags.append("ocr_digits_fixed")
    if fmt in (None, "short_number"):
        return Normalized(value, 0.5, ("id_number_format",))
    if fmt == "digits12" and int(value[:3]) not in province_codes():
        return Normalized(value, 0.6, (*flags, "id_number_province"))
    return Normalized(value, score, tuple(flags))


def normalize_personal_id(text: str) -> Normalized:
    """A personal ID number (số định danh cá nhân): 12 digits starting with a province code."""
    result = normalize_id_number(text)
    if result.value is None or "empty" in result.flags:
        return result
    if number_format(result.value) != "digits12" or "id_number_province" in result.flags:
        flags = tuple(f for f in result.flags if f not in ("id_number_format", "id_number_province"))
        return Normalized(result.value, min(result.score, 0.5), (*flags, "personal_id_format"))
    return result


def cccd_holder(number: str) -> tuple[int, int, int] | None:
    """(gender 1/2, birth-year lower bound of the century, two-digit year) encoded in a 12-digit number."""
    if not re.fullmatch(r"\d{12}", number):
        return None
    digit = int(number[3])
    century = 1900 + 100 * (digit // 2)
    return (1 if digit % 2 == 0 else 2), century, int(number[4:6])
