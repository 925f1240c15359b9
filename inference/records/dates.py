"""Dates, dates in words and times of day from recognized text.

Dates become ISO strings: ``1998-03-12``, ``1998-03`` when only month and year are written, ``1998`` for a
year alone (parents' columns). Beyond every form :func:`data.text.parse_date` reads, this accepts what
handwriting and OCR add: placeholders for an unknown day or month (``00/00/1965``, ``../../1965``,
``ngày ... tháng ... năm 1965``), an age instead of a birth date (``25 tuổi``, counted back from the
registration year), letters read for digits (``l2/O3/1998``) and misspelled number words in dates in words
(``hai muoi bay`` without diacritics, ``tháng tam``).
"""
from __future__ import annotations

import datetime as dt
import re

from rapidfuzz import fuzz, process

from data.charset import normalize_text, strip_marks
from data.text.dates import DEFAULT_MAX_YEAR, ParsedDate, parse_date
from inference.records.normalized import Normalized

OLDEST_PLAUSIBLE_YEAR = 1850

_CONFUSABLE_DIGITS = str.maketrans({"O": "0", "o": "0", "Q": "0", "l": "1", "I": "1", "i": "1", "|": "1",
                                    "!": "1", "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2"})
_CONFUSABLE_CHARS = frozenset("OoQlIi|!SsBZz")
_TOKEN = re.compile(r"[^\s/.\-]+|[\s/.\-]+")
_NUMERIC_DMY = re.compile(r"(?:ngày\s*)?(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4}|\d{2})")
_PLACEHOLDER = r"(?:\d{1,2}|[.…x?_\-]{1,4})"
_SLASHED_PARTIAL = re.compile(rf"(?:ngày\s*)?({_PLACEHOLDER})?\s*/\s*({_PLACEHOLDER})?\s*/\s*(\d{{4}})")
_PLACEHOLDER_TOKEN = re.compile(r"^[.…x?_\-]+$")
_PHRASE_PARTIAL = re.compile(r"(?:ngày\s*(\d{1,2})?\s*)?(?:tháng\s*(\d{1,2})?\s*)?năm\s*(\d{4})")
_AGE = re.compile(r"(\d{1,3})\s*(?:tuổi|t)")
_DIGITS_AND_SEPARATORS = re.compile(r"[\d\s/.\-,]*\d[\d\s/.\-,]*")
# A date read from its digits alone, its separators misread: right where the digits allow one date only, but
# the reader should see it.
SEPARATORS_MISREAD_SCORE = 0.5
_LEADING = re.compile(r"^(?:năm sinh|ns|sn|sinh năm|sinh ngày|sinh)[\s:]+")


def _fix_digits(text: str) -> str:
    """Letters read for digits, inside tokens that already hold a digit ("l2" → "12", "199B" → "1998")."""
    out = []
    for token in _TOKEN.findall(text):
        if any(c.isdigit() for c in token) and all(c.isdigit() or c in _CONFUSABLE_CHARS for c in token):
            token = token.translate(_CONFUSABLE_DIGITS)
        out.append(token)
    return "".join(out)


def _partial(s: str) -> ParsedDate | None:
    """Dates with an unknown day or month written as a placeholder, or left out."""
    m = _SLASHED_PARTIAL.fullmatch(s)
    if m is None:
        tokens = [t for t in s.split() if not _PLACEHOLDER_TOKEN.match(t)]
        m = _PHRASE_PARTIAL.fullmatch(" ".join(tokens))
    if m is None:
        return None

    def number(g: str | None) -> int | None:
        return int(g) if g and g.isdigit() and int(g) > 0 else None

    day, month, year = number(m[1]), number(m[2]), int(m[3])
    try:
        return ParsedDate(year, month, day if month else None)
    except ValueError:
        return None


def _check_range(pd: ParsedDate, flags: list[str], today: dt.date) -> None:
    if pd.year < OLDEST_PLAUSIBLE_YEAR:
        flags.append("date_too_old")
    earliest = (pd.year, pd.month or 1, pd.day or 1)
    if earliest > (today.year, today.month, today.day):
        flags.append("date_in_future")
    if not pd.is_complete:
        flags.append("date_partial")


def normalize_date(text: str, *, max_year: int = DEFAULT_MAX_YEAR, reference_year: int | None = None,
                   today: dt.date | None = None) -> Normalized:
    """A handwritten date → ISO ``YYYY-MM-DD`` (``YYYY-MM``, ``YYYY`` when partial).

    ``max_year`` resolves two-digit years (pass the registration year for birth dates); ``reference_year``
    is the year an age ("25 tuổi") counts back from. Never raises: unreadable text gives ``value=None`` and
    ``date_unreadable`` (or ``date_invalid`` for 31/2 and the like).
    """
    today = today or dt.date.today()
    s = normalize_text(text).lower().strip(" .,;:")
    if not s:
        return Normalized(None, 1.0, ("empty",))
    s = _LEADING.sub("", s)
    flags: list[str] = []
    score = 1.0
    pd = _read(s, max_year)
    if pd is None:
        fixed = _fix_digits(normalize_text(text).strip(" .,;:")).lower()
        fixed = _LEADING.sub("", fixed)
        if fixed != s:
            pd = _read(fixed, max_year)
            if pd is not None:
                flags.append("ocr_digits_fixed")
                score, s = 0.85, fixed
    if pd is None and (respelled := _respell_markers(s)) is not None:
        pd = _read(respelled, max_year)
        if pd is not None:
            flags.append("date_words_respelled")
            score, s = MARKS_MISREAD_SCORE, respelled
    if pd is None:
        m = _AGE.fullmatch(s)
        if m and reference_year is not None and 0 <= int(m[1]) <= 120:
            try:
                pd = ParsedDate(reference_year - int(m[1]))
            except ValueError:
                pd = None
            if pd is not None:
                flags.append("date_partial")
                score = 0.9  # an age gives the year within one
    if pd is None and _NUMERIC_DMY.fullmatch(s) is None:  # a well-formed 31/2/1998 is no lost separator
        pd = _from_digits(s, max_year)
        if pd is not None:
            flags.append("date_separators_misread")
            score = SEPARATORS_MISREAD_SCORE
    if pd is None and _NUMERIC_DMY.fullmatch(s) is None:
        pd = _date_among_words(s, max_year)
        if pd is not None:
            flags.append("date_extra_text")
            score = EXTRA_TEXT_SCORE
    if pd is None:
        # Digits in the shape of a date that is no calendar day (31/2/1998, 12/13/1998).
        invalid = _NUMERIC_DMY.fullmatch(s) is not None
        return Normalized.failed("date_invalid" if invalid else "date_unreadable")
    m = _NUMERIC_DMY.fullmatch(s)
    if m and len(m[3]) == 2:
        flags.append("date_two_digit_year")
        score = min(score, 0.97)
    _check_range(pd, flags, today)
    return Normalized(pd.isoformat(), score, tuple(dict.fromkeys(flags)))


#: The words that frame a date written "ngày 24 tháng 02 năm 1995", by their letters without marks.
_MARKERS = {"ngay": "ngày", "mong": "mồng", "mung": "mùng", "thang": "tháng", "nam": "năm"}
#: The score of such a date whose frame words were read with their marks wrong ("nam" for "năm"): the
#: numbers, which decide the value, were read as they are.
MARKS_MISREAD_SCORE = 0.9


def _respell_markers(s: str) -> str | None:
    """``s`` with the frame words of a date written in numbers respelled ("ngày 24 tháng 02 nam 1995", "Ngay 8
    thang 6 năm 1995"), where every word is a number or such a word, at least two are frame words and one of
    them was misspelt; else ``None``. "Nam" alone beside a date (the gender column) is not a frame."""
    tokens = s.split()
    words = [t for t in tokens if not t.isdigit()]
    if len(words) < 2 or len(words) == len(tokens) or any(strip_marks(t) not in _MARKERS for t in words):
        return None
    respelled = [t if t.isdigit() else _MARKERS[strip_marks(t)] for t in tokens]
    return " ".join(respelled) if respelled != tokens else None


#: The score of a date read out of other words ("14/08/1914 Nam": the gender column joined to it).
EXTRA_TEXT_SCORE = 0.5


def _date_among_words(s: str, max_year: int) -> ParsedDate | None:
    """The date that a run of ``s``'s words holds when the rest are words of no date: another cell's text
    joined to it ("14/08/1914 nam", "30/6/2011 quê quán", "số lệ 18/3/2003"). Runs of words with digits or
    of date words ("ngày", "tháng", "năm"...), longest first; ``None`` where none reads as a date, or where
    two runs would (which one is the field's is then anyone's guess)."""
    tokens = s.split()
    runs, run = [], []
    for token in tokens:
        if any(c.isdigit() for c in token) or token in _WORD_SET:
            run.append(token)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    if len(runs) != 1 or len(runs[0]) == len(tokens) or not any(c.isdigit() for c in "".join(runs[0])):
        return None
    return _read(" ".join(runs[0]), max_year)


def _from_digits(s: str, max_year: int) -> ParsedDate | None:
    """The one date the digits of ``s`` can be when its separators were misread or lost: a year alone
    read "19.70" or "19.7.3", a date "2431968" (24.3.1968). ``None`` where the digits allow none, or more
    than one ("1121998": 1 December or 11 February)."""
    if not _DIGITS_AND_SEPARATORS.fullmatch(s):
        return None
    digits = re.sub(r"\D", "", s)
    if len(digits) == 4:
        candidates = [(int(digits), None, None)]
    elif 5 <= len(digits) <= 8:
        head, year = digits[:-4], int(digits[-4:])
        candidates = [(year, int(head[cut:]), int(head[:cut])) for cut in (1, 2) if 1 <= len(head) - cut <= 2]
    else:
        return None
    dates = []
    for year, month, day in candidates:
        if not OLDEST_PLAUSIBLE_YEAR <= year <= max_year:
            continue
        try:
            dates.append(ParsedDate(year, month, day))
        except ValueError:
            continue
    return dates[0] if len(dates) == 1 else None


def _read(s: str, max_year: int) -> ParsedDate | None:
    try:
        return parse_date(s, max_year=max_year)
    except ValueError:
        return _partial(s)


# --- dates in words -----------------------------------------------------------------------------------------
_DATE_WORDS = ("ngày", "mồng", "mùng", "tháng", "năm", "không", "một", "mốt", "hai", "ba", "bốn", "tư", "lăm",
               "nhăm", "sáu", "bảy", "bẩy", "tám", "chín", "mười", "mươi", "trăm", "linh", "lẻ", "nghìn",
               "ngàn", "giêng", "chạp")
_WORD_SET = frozenset(_DATE_WORDS)
#: The words a date in words is written with ("ngày", "tháng", "năm" and the numbers).
DATE_WORDS = _WORD_SET
_DIGIT_VALUES = {"hai": 2, "ba": 3, "bốn": 4, "năm": 5, "sáu": 6, "bảy": 7, "bẩy": 7, "tám": 8, "chín": 9}
# Without diacritics several words collapse; "muoi" is mười (10) or mươi (tens) by position.
_BARE: dict[str, str] = {}
for _w in _DATE_WORDS:
    _BARE.setdefault(strip_marks(_w), _w)
_BARE_KEYS = list(_BARE)


def _correct_words(tokens: list[str]) -> tuple[list[str], float]:
    """Map each token to the nearest date word; the score is the product of the token similarities."""
    out: list[str] = []
    score = 1.0
    for token in tokens:
        if token in _WORD_SET or token.isdigit():
            out.append(token)
            continue
        plain = strip_marks(token)
        if plain == "muoi":
            tens_digit = bool(out) and out[-1] in _DIGIT_VALUES
            out.append("mươi" if tens_digit else "mười")
            score *= 0.95
            continue
        if plain in _BARE:
            word = _BARE[plain]
            if word == "một" and out and out[-1] == "mươi":
                word = "mốt"
            out.append(word)
            score *= 0.95
            continue
        best = process.extractOne(plain, _BARE_KEYS, scorer=fuzz.ratio, score_cutoff=60)
        if best is None:
            raise ValueError(f"not a date word: {token!r}")
        out.append(_BARE[best[0]])
        score *= 0.9 * best[1] / 100
    return out, score


def normalize_date_in_words(text: str, *, max_year: int = DEFAULT_MAX_YEAR,
                            today: dt.date | None = None) -> Normalized:
    """A date written in words ("Ngày hai mươi bảy tháng tám năm hai nghìn không trăm linh tám") → ISO.

    Misspelled or diacritic-less number words are corrected (``words_corrected``, lower score); a numeric
    date in this column is read too but flagged ``digits_in_words_date``.
    """
    today = today or dt.date.today()
    s = normalize_text(text).lower().strip(" .,;:")
    if not s:
        return Normalized(None, 1.0, ("empty",))
    flags: list[str] = []
    score = 1.0
    try:
        pd = parse_date(s, max_year=max_year)
    except ValueError:
        pd = None
    if pd is None:
        tokens = re.sub(r"[,;:.]", " ", s).split()
        try:
            corrected, score = _correct_words(tokens)
            pd = parse_date(" ".join(corrected), max_year=max_year)
            flags.append("words_corrected")
        except ValueError:
            return Normalized.failed("date_unreadable")
    if any(c.isdigit() for c in s):
        flags.append("digits_in_words_date")
    _check_range(pd, flags, today)
    return Normalized(pd.isoformat(), round(score, 4), tuple(flags))


# --- times of day -------------------------------------------------------------------------------------------
_TIME = re.compile(r"(?:lúc\s*)?(\d{1,2})\s*(?:giờ|g|h|:|\.)\s*(?:(\d{1,2})\s*(?:phút|p|')?)?\s*"
                   r"(sáng|trưa|chiều|tối|đêm)?")


def normalize_time(text: str) -> Normalized:
    """A time of death ("14 giờ 30 phút", "14h30", "8 giờ", "3 giờ chiều") → ``HH:MM``."""
    s = normalize_text(text).lower().strip(" .,;:")
    if not s:
        return Normalized(None, 1.0, ("empty",))
    flags: list[str] = []
    m = _TIME.fullmatch(s)
    if m is None:
        fixed = _fix_digits(s)
        m = _TIME.fullmatch(fixed)
        if m is None:
            return Normalized.failed("time_unreadable")
        flags.append("ocr_digits_fixed")
    hour, minute = int(m[1]), int(m[2] or 0)
    if m[3] in ("chiều", "tối") and hour < 12 or m[3] == "đêm" and 6 <= hour < 12:
        hour += 12
    if not (0 <= hour < 24 and 0 <= minute < 60):
        return Normalized.failed("time_unreadable")
    return Normalized(f"{hour:02d}:{minute:02d}", 0.85 if flags else 1.0, tuple(flags))


# --- helpers for rules and exports ---------------------------------------------------------------------------
def parse_iso(value: object) -> ParsedDate | None:
    """A normalized date value (``YYYY[-MM[-DD]]``) back to a :class:`ParsedDate`; ``None`` otherwise."""
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", value)
    if m is None:
        return None
    try:
        return ParsedDate(int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None)
    except ValueError:
        return None


def spreadsheet_date(value: object) -> str | None:
    """The import-spreadsheet form ``dd.mm.yyyy`` (``mm.yyyy``, ``yyyy`` when partial) of an ISO value."""
    pd = parse_iso(value)
    return pd.spreadsheet() if pd is not None else None
