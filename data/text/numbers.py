"""Code-like values of register books: identity numbers, entry / volume / page numbers, decision numbers and
times of day.

Identity numbers follow the real layouts: a CMND has 9 digits, the first two a (pre-1997) province code; a CCCD
and the personal identification number (số định danh cá nhân) have 12: the province code of the place of
birth registration (001-096, the GSO code), a century/gender digit (0 = man born 1900-1999, 1 = woman,
2 / 3 for 2000-2099), two digits of the birth year and six serial digits.
"""
from __future__ import annotations

import random

MALE, FEMALE = 1, 2
# First two CMND digits for a few provinces whose codes are well attested (Hải Dương and Hưng Yên were one
# province, Hải Hưng, when the scheme was set up); other provinces draw from the 01-38 range.
_CMND_PREFIX = {1: "01", 79: "02", 31: "03", 30: "14", 33: "14", 34: "15", 36: "16", 35: "16", 37: "16",
                38: "17", 40: "18", 42: "18"}


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def cmnd_number(rng: random.Random, province_code: int | None = None) -> str:
    """A 9-digit CMND number; the prefix follows ``province_code`` where known."""
    prefix = _CMND_PREFIX.get(province_code) if province_code is not None else None
    if prefix is None or rng.random() < 0.1:  # people move; the card comes from where they lived then
        prefix = f"{rng.randint(1, 38):02d}"
    return prefix + _digits(rng, 7)


def century_gender_digit(gender: int, birth_year: int) -> int:
    """The CCCD's fourth digit: 0/1 for a man/woman born in the 1900s, 2/3 in the 2000s (and so on)."""
    if gender not in (MALE, FEMALE):
        raise ValueError(f"gender must be 1 or 2, got {gender!r}")
    if not 1900 <= birth_year <= 2399:
        raise ValueError(f"birth year {birth_year} outside 1900..2399")
    return (birth_year // 100 - 19) * 2 + (gender - 1)


def cccd_number(rng: random.Random, province_code: int, gender: int, birth_year: int) -> str:
    """A 12-digit CCCD / personal ID number: province code (001-096), century/gender digit, year, serial."""
    if not 1 <= province_code <= 96:
        raise ValueError(f"province code must be 1..96, got {province_code}")
    return f"{province_code:03d}{century_gender_digit(gender, birth_year)}{birth_year % 100:02d}{_digits(rng, 6)}"


def passport_number(rng: random.Random, issue_year: int | None = None) -> str:
    """A passport number: one letter (B, C from 2011, N, E from 2022) and seven digits."""
    year = issue_year or 2015
    letter = rng.choice("BN" if year < 2011 else "CN" if year < 2022 else "CE")
    return letter + _digits(rng, 7)


def id_document_number(rng: random.Random, code: int, *, province_code: int = 30, gender: int = MALE,
                       birth_year: int = 1980, issue_year: int | None = None) -> str:
    """The number of an identity document of LoaiGiayToTuyThan ``code`` (1-8), as written."""
    if code == 1:
        number = cmnd_number(rng, province_code)
        # Some officers group the digits as printed on the card.
        return f"{number[:3]} {number[3:6]} {number[6:]}" if rng.random() < 0.05 else number
    if code == 4:
        return cccd_number(rng, province_code, gender, birth_year)
    if code == 2:
        return passport_number(rng, issue_year)
    if code == 3:
        return rng.choice(("TT", "TTR")) + _digits(rng, 6)
    if code in (5, 6, 7):
        return _digits(rng, rng.choice((6, 7, 8)))
    if code == 8:  # usually a birth certificate: its entry number
        return entry_number(rng, rng.randint(1, 300), issue_year or 2000)
    raise ValueError(f"unknown LoaiGiayToTuyThan code {code!r}; valid: 1..8")


def entry_number(rng: random.Random, number: int, year: int) -> str:
    """The entry number ``so``: "125", "125/2008", now and then "Số 125" or "125/08"."""
    form = rng.choices(("plain", "year", "so", "short"), (55, 35, 5, 5))[0]
    if form == "year":
        return f"{number}/{year}"
    if form == "so":
        return f"Số {number}"
    if form == "short":
        return f"{number}/{year % 100:02d}"
    return str(number)


def volume_number(rng: random.Random, volume: int, year: int) -> str:
    """The volume number ``quyenSo``: "01/2008", "01", "1", "Quyển 02"."""
    form = rng.choices(("padded_year", "padded", "plain", "quyen", "plain_year"), (45, 20, 15, 5, 15))[0]
    return {"padded_year": f"{volume:02d}/{year}", "padded": f"{volume:02d}", "plain": str(volume),
            "quyen": f"Quyển {volume:02d}", "plain_year": f"{volume}/{year}"}[form]


def page_number(rng: random.Random, page: int) -> str:
    """The page number ``trangSo``: mostly just "37"."""
    form = rng.choices(("plain", "tr", "trang", "padded"), (85, 5, 5, 5))[0]
    return {"plain": str(page), "tr": f"Tr. {page}", "trang": f"trang {page}", "padded": f"{page:02d}"}[form]


def decision_number(rng: random.Random, number: int, year: int, *, kind: str = "QĐ", issuer: str = "UBND") -> str:
    """A decision / document number: "12/QĐ-UBND", "125/2015/QĐ-UBND", "Số 12/QĐ-UB"."""
    issuer = issuer if rng.random() < 0.85 else "UB"
    form = rng.choices(("short", "year", "so"), (65, 25, 10))[0]
    if form == "year":
        return f"{number}/{year}/{kind}-{issuer}"
    return f"{'Số ' if form == 'so' else ''}{number}/{kind}-{issuer}"


def time_of_day(rng: random.Random, hour: int | None = None, minute: int | None = None) -> str:
    """A time as written in nktGioPhutChet: "14 giờ 30 phút", "14h30", "14h30'", "14g30", "8 giờ"."""
    hour = rng.randrange(24) if hour is None else hour
    minute = rng.choice((0, 0, 0, 15, 30, 30, 45, rng.randrange(60))) if minute is None else minute
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"invalid time {hour}:{minute}")
    if minute == 0:
        return rng.choices((f"{hour} giờ", f"{hour}h", f"{hour} giờ 00 phút", f"{hour}h00"), (50, 30, 10, 10))[0]
    forms = (f"{hour} giờ {minute} phút", f"{hour}h{minute:02d}", f"{hour}h{minute:02d}'", f"{hour} giờ {minute}",
             f"{hour}g{minute:02d}", f"{hour:02d}:{minute:02d}")
    return rng.choices(forms, (45, 25, 8, 10, 5, 7))[0]
