"""Dates as officers write them in register books, Vietnamese number words, and a parser for all of it.

Written forms: ``12/3/1998``, ``12/03/1998``, ``12-03-1998``, ``12.3.98``, ``ngày 12 tháng 3 năm 1998``,
``mồng 5 tháng 3 năm 1998``, a year alone (parents' birth dates) and fully in words
("Ngày hai mươi bảy tháng tám năm hai nghìn không trăm linh tám", the ``nksNgaySinhBangChu`` column).

:func:`parse_date` reads every one of these back into a :class:`ParsedDate`; the page pipeline's
normalization step uses it on recognised text, so it is tolerant of case, spacing and spelling variants
(mồng/mùng, linh/lẻ, nghìn/ngàn, bảy/bẩy, tư/bốn, "ngày 05").
"""
from __future__ import annotations

import calendar
import datetime as dt
import random
import re
from dataclasses import dataclass
from enum import Enum
from typing import Sequence

from data.charset import normalize_text

# Two-digit years resolve to the latest year not after this one: the digitized books end with the 2025
# reorganization, so "25" is 2025 and "26" is 1926. A constant, not today's date, so results are reproducible.
DEFAULT_MAX_YEAR = 2025
MIN_YEAR, MAX_YEAR = 1800, 2100


@dataclass(frozen=True)
class ParsedDate:
    """A possibly partial calendar date: ``year`` always, ``month`` and ``day`` when written."""

    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if not MIN_YEAR <= self.year <= MAX_YEAR:
            raise ValueError(f"year {self.year} outside {MIN_YEAR}..{MAX_YEAR}")
        if self.month is None:
            if self.day is not None:
                raise ValueError("a day without a month is not a date")
            return
        if not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month} outside 1..12")
        if self.day is not None:
            last = calendar.monthrange(self.year, self.month)[1]
            if not 1 <= self.day <= last:
                raise ValueError(f"day {self.day} outside 1..{last} for {self.month}/{self.year}")

    @classmethod
    def from_date(cls, value: dt.date) -> "ParsedDate":
        return cls(value.year, value.month, value.day)

    @property
    def is_complete(self) -> bool:
        return self.day is not None

    def to_date(self) -> dt.date:
        """The full date; ``ValueError`` when only a year (or month and year) is known."""
        if self.month is None or self.day is None:
            raise ValueError(f"{self.isoformat()} is a partial date")
        return dt.date(self.year, self.month, self.day)

    def isoformat(self) -> str:
        """``1998-03-12``, ``1998-03`` or ``1998``."""
        parts = [f"{self.year:04d}"] + [f"{v:02d}" for v in (self.month, self.day) if v is not None]
        return "-".join(parts)

    def spreadsheet(self) -> str:
        """The import-spreadsheet form: ``12.03.1998`` (``03.1998``, ``1998`` when partial)."""
        parts = [f"{v:02d}" for v in (self.day, self.month) if v is not None] + [f"{self.year:04d}"]
        return ".".join(parts)


# --- Vietnamese number words ------------------------------------------------------------------------------
_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")


@dataclass(frozen=True)
class WordVariants:
    """Spelling choices that differ between writers; the defaults are the standard written forms.

    ``four``: "tư" or "bốn" for a final 4 after "mươi" (24 = hai mươi tư); ``zero_tens``: "linh" or "lẻ"
    (108 = một trăm linh tám); ``thousand``: "nghìn" (north, official) or "ngàn" (south); ``seven``: "bảy" or
    the northern "bẩy".
    """

    four: str = "tư"
    zero_tens: str = "linh"
    thousand: str = "nghìn"
    seven: str = "bảy"

    @classmethod
    def random(cls, rng: random.Random) -> "WordVariants":
        return cls(
            four=rng.choices(("tư", "bốn"), (8, 2))[0],
            zero_tens=rng.choices(("linh", "lẻ"), (8, 2))[0],
            thousand=rng.choices(("nghìn", "ngàn"), (8, 2))[0],
            seven=rng.choices(("bảy", "bẩy"), (9, 1))[0],
        )


def _digit(d: int, v: WordVariants) -> str:
    return v.seven if d == 7 else _DIGITS[d]


def _below_100(n: int, v: WordVariants) -> list[str]:
    if n < 10:
        return [_digit(n, v)]
    tens, unit = divmod(n, 10)
    words = ["mười"] if tens == 1 else [_digit(tens, v), "mươi"]
    if unit == 0:
        return words
    if unit == 5:
        return words + ["lăm"]  # 15 = mười lăm, 25 = hai mươi lăm
    if unit == 1 and tens > 1:
        return words + ["mốt"]  # 21 = hai mươi mốt, but 11 = mười một
    if unit == 4 and tens > 1:
        return words + [v.four]
    return words + [_digit(unit, v)]


def _below_1000(n: int, v: WordVariants, *, inside: bool) -> list[str]:
    """``n`` < 1000; ``inside`` = after a thousands group, where hundreds are always spoken (không trăm)."""
    hundreds, rest = divmod(n, 100)
    if hundreds == 0 and not inside:
        return _below_100(rest, v)
    words = [_digit(hundreds, v), "trăm"]
    if rest == 0:
        return words
    if rest < 10:
        return words + [v.zero_tens, _digit(rest, v)]
    return words + _below_100(rest, v)


def number_to_words(n: int, variants: WordVariants | None = None) -> str:
    """Vietnamese words for ``0 <= n < 1_000_000``, lower case.

    >>> number_to_words(1998)
    'một nghìn chín trăm chín mươi tám'
    >>> number_to_words(2008)
    'hai nghìn không trăm linh tám'
    """
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < 1_000_000:
        raise ValueError(f"number_to_words needs an int in 0..999999, got {n!r}")
    v = variants or WordVariants()
    if n == 0:
        return _DIGITS[0]
    thousands, rest = divmod(n, 1000)
    if thousands == 0:
        return " ".join(_below_1000(rest, v, inside=False))
    words = _below_1000(thousands, v, inside=False) + [v.thousand]
    if rest:
        words += _below_1000(rest, v, inside=True)
    return " ".join(words)


_UNIT_WORDS = {
    "không": 0, "một": 1, "mốt": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5, "lăm": 5, "nhăm": 5,
    "sáu": 6, "bảy": 7, "bẩy": 7, "tám": 8, "chín": 9,
}
_PLAIN_DIGIT_WORDS = frozenset({"không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "bẩy", "tám", "chín"})


def words_to_number(words: str | Sequence[str]) -> int:
    """Parse Vietnamese number words ("hai nghìn không trăm linh tám" → 2008); ``ValueError`` if malformed.

    Also reads a year spelled digit by digit ("một chín chín tám" → 1998), as some writers do.
    """
    tokens = words.lower().split() if isinstance(words, str) else [t.lower() for t in words]
    if not tokens:
        raise ValueError("no number words")
    if len(tokens) >= 2 and all(t in _PLAIN_DIGIT_WORDS for t in tokens):
        return int("".join(str(_UNIT_WORDS[t]) for t in tokens))
    total = seg = 0
    pending: int | None = None
    seen_thousand = False

    def bad(why: str) -> ValueError:
        return ValueError(f"malformed number words {' '.join(tokens)!r}: {why}")

    for tok in tokens:
        if tok in _UNIT_WORDS:
            if pending is not None:
                raise bad(f"two digits in a row at {tok!r}")
            pending = _UNIT_WORDS[tok]
        elif tok == "mười":
            if pending is not None or seg % 100:
                raise bad("misplaced 'mười'")
            seg += 10
        elif tok == "mươi":
            if pending is None or pending < 2 or seg % 100:
                raise bad("'mươi' needs a digit 2-9 before it")
            seg += pending * 10
            pending = None
        elif tok == "trăm":
            if pending is None or seg:
                raise bad("'trăm' needs a single digit before it")
            seg = pending * 100
            pending = None
        elif tok in ("linh", "lẻ"):
            if pending is not None or seg % 100:
                raise bad(f"misplaced {tok!r}")
        elif tok in ("nghìn", "ngàn"):
            value = seg + (pending or 0)
            if seen_thousand or value == 0:
                raise bad(f"misplaced {tok!r}")
            total, seg, pending, seen_thousand = value * 1000, 0, None, True
        else:
            raise bad(f"unknown word {tok!r}")
    return total + seg + (pending or 0)


# --- Writing dates ----------------------------------------------------------------------------------------
class Case(str, Enum):
    """Capitalisation of a phrase: "Ngày hai..." (sentence), "ngày hai..." (lower), "NGÀY HAI..." (upper)."""

    SENTENCE = "sentence"
    LOWER = "lower"
    UPPER = "upper"


def apply_case(text: str, case: Case) -> str:
    if case is Case.UPPER:
        return text.upper()
    if case is Case.LOWER:
        return text.lower()
    return text[:1].upper() + text[1:]


class DateStyle(str, Enum):
    """How a date is written; values are mnemonic examples for 5 March 1998."""

    SLASH = "5/3/1998"
    SLASH_PADDED = "05/03/1998"
    SLASH_SHORT = "5/3/98"
    DASH = "5-3-1998"
    DASH_PADDED = "05-03-1998"
    DOT = "5.3.1998"
    DOT_PADDED = "05.03.1998"  # the import spreadsheet's form
    DOT_SHORT = "5.3.98"
    PHRASE = "ngày 5 tháng 3 năm 1998"
    PHRASE_PADDED = "ngày 05 tháng 03 năm 1998"
    PHRASE_MONG = "mồng 5 tháng 3 năm 1998"  # only for days 1-10, else written as PHRASE
    WORDS = "Ngày năm tháng ba năm một nghìn chín trăm chín mươi tám"
    YEAR = "1998"
    YEAR_PHRASE = "năm 1998"


SHORT_YEAR_STYLES = frozenset({DateStyle.SLASH_SHORT, DateStyle.DOT_SHORT})
YEAR_STYLES = frozenset({DateStyle.YEAR, DateStyle.YEAR_PHRASE})
# Relative frequency of each style for a full date in a ledger cell (words are rare outside *BangChu columns).
FULL_DATE_WEIGHTS: dict[DateStyle, float] = {
    DateStyle.SLASH: 30, DateStyle.SLASH_PADDED: 14, DateStyle.SLASH_SHORT: 4, DateStyle.DASH: 6,
    DateStyle.DASH_PADDED: 7, DateStyle.DOT: 6, DateStyle.DOT_PADDED: 5, DateStyle.DOT_SHORT: 4,
    DateStyle.PHRASE: 14, DateStyle.PHRASE_PADDED: 4, DateStyle.PHRASE_MONG: 3, DateStyle.WORDS: 1,
}


def _two_digit_ok(year: int, max_year: int = DEFAULT_MAX_YEAR) -> bool:
    return max_year - 99 <= year <= max_year


def date_in_words(value: dt.date | ParsedDate, rng: random.Random | None = None, *,
                  variants: WordVariants | None = None, case: Case | None = None,
                  mong: bool | None = None) -> str:
    """A date fully in words: "Ngày hai mươi bảy tháng tám năm hai nghìn không trăm linh tám".

    Without ``rng`` the standard form (sentence case, linh, nghìn, tư); with it, writers' variants are drawn
    (lẻ/ngàn/bẩy/bốn, "mồng" before days 1-10, lower or upper case) unless given explicitly. Partial dates
    give "tháng ba năm ..." or "năm ...".
    """
    pd = value if isinstance(value, ParsedDate) else ParsedDate.from_date(value)
    if rng is not None:
        variants = variants or WordVariants.random(rng)
        case = case or rng.choices((Case.SENTENCE, Case.LOWER, Case.UPPER), (75, 18, 7))[0]
        mong = rng.random() < 0.3 if mong is None else mong
    v = variants or WordVariants()
    parts = []
    if pd.day is not None:
        parts += ["ngày"] + (["mồng"] if mong and pd.day <= 10 else []) + [number_to_words(pd.day, v)]
    if pd.month is not None:
        # Month 4 is always "tháng tư"; other months use plain numbers.
        parts += ["tháng", "tư" if pd.month == 4 else number_to_words(pd.month, v)]
    parts += ["năm", number_to_words(pd.year, v)]
    return apply_case(" ".join(parts), case or Case.SENTENCE)


def format_date(value: dt.date | ParsedDate, style: DateStyle, rng: random.Random | None = None) -> str:
    """Write ``value`` in ``style``. Partial dates only take the year styles; two-digit years only where
    :func:`parse_date` resolves them back (the hundred years up to :data:`DEFAULT_MAX_YEAR`)."""
    pd = value if isinstance(value, ParsedDate) else ParsedDate.from_date(value)
    y, m, d = pd.year, pd.month, pd.day
    if style is DateStyle.YEAR:
        return str(y)
    if style is DateStyle.YEAR_PHRASE:
        return f"năm {y}"
    if style is DateStyle.WORDS:
        return date_in_words(pd, rng)
    if m is None or d is None:
        raise ValueError(f"{style.name} needs a full date, got {pd.isoformat()}")
    if style in SHORT_YEAR_STYLES and not _two_digit_ok(y):
        raise ValueError(f"{y} cannot be written with two digits unambiguously")
    yy = f"{y % 100:02d}"
    table = {
        DateStyle.SLASH: f"{d}/{m}/{y}", DateStyle.SLASH_PADDED: f"{d:02d}/{m:02d}/{y}",
        DateStyle.SLASH_SHORT: f"{d}/{m}/{yy}", DateStyle.DASH: f"{d}-{m}-{y}",
        DateStyle.DASH_PADDED: f"{d:02d}-{m:02d}-{y}", DateStyle.DOT: f"{d}.{m}.{y}",
        DateStyle.DOT_PADDED: f"{d:02d}.{m:02d}.{y}", DateStyle.DOT_SHORT: f"{d}.{m}.{yy}",
        DateStyle.PHRASE: f"ngày {d} tháng {m} năm {y}",
        DateStyle.PHRASE_PADDED: f"ngày {d:02d} tháng {m:02d} năm {y}",
        DateStyle.PHRASE_MONG: f"mồng {d} tháng {m} năm {y}" if d <= 10 else f"ngày {d} tháng {m} năm {y}",
    }
    text = table[style]
    if style in (DateStyle.PHRASE, DateStyle.PHRASE_PADDED, DateStyle.PHRASE_MONG) and rng is not None:
        if rng.random() < 0.35:
            text = text[:1].upper() + text[1:]
    return text


def random_date_style(rng: random.Random, value: dt.date | ParsedDate | None = None, *,
                      words: bool = True) -> DateStyle:
    """A style drawn from :data:`FULL_DATE_WEIGHTS`, skipping two-digit years ``value`` cannot take."""
    styles = [s for s in FULL_DATE_WEIGHTS if words or s is not DateStyle.WORDS]
    if value is not None and not _two_digit_ok(value.year):
        styles = [s for s in styles if s not in SHORT_YEAR_STYLES]
    return rng.choices(styles, [FULL_DATE_WEIGHTS[s] for s in styles])[0]


def write_date(rng: random.Random, value: dt.date | ParsedDate, style: DateStyle | None = None) -> str:
    """``value`` as a ledger cell: in ``style`` or a random one (year styles when only a year is known)."""
    pd = value if isinstance(value, ParsedDate) else ParsedDate.from_date(value)
    if style is None:
        if pd.day is None:
            style = rng.choices((DateStyle.YEAR, DateStyle.YEAR_PHRASE), (9, 1))[0]
        else:
            style = random_date_style(rng, pd)
    elif style in SHORT_YEAR_STYLES and not _two_digit_ok(pd.year):
        style = DateStyle.SLASH  # the writer would have used four digits
    return format_date(pd, style, rng)


def random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    """A uniformly random day in ``start..end`` (inclusive)."""
    span = (end - start).days
    if span < 0:
        raise ValueError(f"empty date range {start}..{end}")
    return start + dt.timedelta(days=rng.randint(0, span))


# --- Reading dates ----------------------------------------------------------------------------------------
_NUMERIC_DMY = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4}|\d{2})")
_NUMERIC_MY = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{4})")
_YEAR = re.compile(r"\d{4}")
_LEADING = re.compile(r"^(?:sinh|vào|chết|mất|cấp)\s+")  # "sinh ngày ...", "sinh năm 1965"
_MONTH_NAMES = {"giêng": 1, "chạp": 12}


def resolve_two_digit_year(yy: int, max_year: int = DEFAULT_MAX_YEAR) -> int:
    """The latest year ending in ``yy`` that is not after ``max_year`` ("98" → 1998, "08" → 2008)."""
    if not 0 <= yy <= 99:
        raise ValueError(f"two-digit year expected, got {yy}")
    return max_year - (max_year - yy) % 100


def _number(tokens: Sequence[str], what: str, *, month: bool = False) -> int:
    """Value of a day, month or year written in digits or words."""
    if not tokens:
        raise ValueError(f"missing {what}")
    if len(tokens) == 1 and tokens[0].isdigit():
        return int(tokens[0])
    if month and len(tokens) == 1 and tokens[0] in _MONTH_NAMES:
        return _MONTH_NAMES[tokens[0]]
    return words_to_number(tokens)


def _year(tokens: Sequence[str], max_year: int) -> int:
    value = _number(tokens, "year")
    return resolve_two_digit_year(value, max_year) if value < 100 else value


def _parse_words(tokens: list[str], max_year: int) -> ParsedDate:
    if tokens and tokens[0] == "ngày":
        tokens = tokens[1:]
    if "tháng" in tokens:
        i = tokens.index("tháng")
        day_tokens = [t for t in tokens[:i] if t not in ("mồng", "mùng", "ngày")]
        rest = tokens[i + 1:]
        errors = []
        # The month is one or two words and "năm" follows it; "tháng năm năm ..." is May.
        for k in (1, 2):
            if len(rest) > k + 1 and rest[k] == "năm":
                try:
                    month = _number(rest[:k], "month", month=True)
                    year = _year(rest[k + 1:], max_year)
                    day = _number(day_tokens, "day") if day_tokens else None
                    return ParsedDate(year, month, day)
                except ValueError as exc:
                    errors.append(str(exc))
        raise ValueError("; ".join(errors) or "expected '... tháng M năm Y'")
    if tokens and tokens[0] == "năm":
        return ParsedDate(_year(tokens[1:], max_year))
    raise ValueError("expected 'ngày D tháng M năm Y', 'tháng M năm Y' or 'năm Y'")


def parse_date(text: str, *, max_year: int = DEFAULT_MAX_YEAR) -> ParsedDate:
    """Read a handwritten date in any of the forms :func:`format_date` writes, and close variants.

    Numeric dates with ``/``, ``-`` or ``.`` (two-digit years resolved to the latest year not after
    ``max_year``; pass the registration year when reading a birth date), "ngày D tháng M năm Y" with digits or
    words (also "mồng"/"mùng", "ngày 05"), "tháng M năm Y", "năm Y" and a four-digit year alone. Case and
    spacing do not matter. Raises ``ValueError`` naming the text when it is not a valid date.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_date needs a str, got {type(text).__name__}")
    s = normalize_text(text).lower().strip(" .,;:")
    s = _LEADING.sub("", s)
    try:
        if not s:
            raise ValueError("empty")
        m = _NUMERIC_DMY.fullmatch(re.sub(r"^ngày\s*", "", s))
        if m:
            day, month, year = int(m[1]), int(m[2]), int(m[3])
            if len(m[3]) == 2:
                year = resolve_two_digit_year(year, max_year)
            return ParsedDate(year, month, day)
        m = _NUMERIC_MY.fullmatch(re.sub(r"^tháng\s*", "", s))
        if m:
            return ParsedDate(int(m[2]), int(m[1]))
        if _YEAR.fullmatch(s):
            return ParsedDate(int(s))
        # Separate digits glued to words ("ngày12"), drop commas between the parts.
        s = re.sub(r"(?<=\d)(?=[^\W\d])|(?<=[^\W\d])(?=\d)", " ", s)
        tokens = re.sub(r"[,;:]", " ", s).split()
        return _parse_words(tokens, max_year)
    except ValueError as exc:
        raise ValueError(f"cannot read date {text!r}: {exc}") from None
