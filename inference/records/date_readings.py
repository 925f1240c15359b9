"""A date the entry's other dates contradict, and the readings of its year that would not.

An entry's dates hold together: a child is born before it is registered and after its parents were old enough,
a death follows the birth and precedes its registration, spouses are of age. Where one of them breaks that
(:data:`DATE_CONTRADICTIONS`, the flags of :mod:`inference.records.validate`), one of the dates is misread, and
a misread year is most often one digit off ("1980" for "1960"). :func:`year_readings` gives a date's readings
with one digit of its year changed; :func:`date_contradictions` counts what an entry's fields break, so that
the page pipeline can read the date again with the year that agrees with the rest, where its crop scores that
reading nearly as well (``PagePipeline.read_dates_against_entry``).

A page's registration dates hold together too: the entries are written as they are registered, so their dates
run forward down the page. A date out of that order (:func:`dates_out_of_order`) is most often one digit
misread ("17-02-2004" between "15-03-2004" and "29-04-2004"), and :func:`date_readings_between` gives its
readings with one digit changed, dropped or added that fall where its neighbours say
(``PagePipeline.read_registration_dates_in_order``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from data.schema import ValueKind
from inference.records.dates import OLDEST_PLAUSIBLE_YEAR
from inference.records.normalize import normalize_value
from inference.records.record import build_record

#: The record flags that say the entry's dates contradict one another.
DATE_CONTRADICTIONS = frozenset({"birth_after_registration", "age_implausible", "parent_age_implausible",
                                 "death_before_birth", "death_after_registration", "spouse_under_age"})
#: No register year read again lies past this one.
LATEST_YEAR = 2030
_DIGITS = re.compile(r"\d+")


def year_readings(text: str) -> list[str]:
    """``text`` (a date as read) with one digit of its year changed, each year between
    ``OLDEST_PLAUSIBLE_YEAR`` and ``LATEST_YEAR``: the year is its last run of four digits ("12/3/1980",
    "năm 1983"), or a last run of two after another run of digits ("13/10/48"). No year, no readings."""
    runs = list(_DIGITS.finditer(text or ""))
    if not runs:
        return []
    year = runs[-1]
    if len(year[0]) == 4:
        plausible = lambda y: OLDEST_PLAUSIBLE_YEAR <= int(y) <= LATEST_YEAR  # noqa: E731
    elif len(year[0]) == 2 and len(runs) > 1:
        plausible = lambda y: True  # noqa: E731
    else:
        return []
    out = []
    for i, old in enumerate(year[0]):
        for digit in "0123456789":
            if digit != old:
                changed = year[0][:i] + digit + year[0][i + 1:]
                if plausible(changed):
                    out.append(text[:year.start()] + changed + text[year.end():])
    return out


def date_contradictions(book: str, fields: Iterable[tuple[str, str]]) -> int:
    """How many of :data:`DATE_CONTRADICTIONS` an entry of ``book`` with these ``(key, text)`` fields raises."""
    record = build_record(book, 0, [(key, text, None, None) for key, text in fields], review_threshold=0.0)
    return sum(flag in DATE_CONTRADICTIONS for flag in record["flags"])


#: Fewest registration dates in order down a page for :func:`dates_out_of_order` to judge the others by.
IN_ORDER_AT_LEAST = 3
#: How far past its one dated neighbour a first or last entry's date may lie (a page spans months, not years).
ONE_SIDED_WINDOW = timedelta(days=366)


def full_date(text: str) -> str | None:
    """The ISO date ``"YYYY-MM-DD"`` that ``text`` reads as, or ``None`` (no date, or a year alone)."""
    value = normalize_value(ValueKind.DATE, text).value
    return value if isinstance(value, str) and len(value) == 10 else None


def dates_out_of_order(values: Sequence[str | None]) -> list[tuple[str, str] | None]:
    """For each entry of a page, top to bottom, given its registration date (ISO, ``None`` where none was read
    as a whole date): ``(earliest, latest)``, the dates it must lie between, where it lies on no longest run of
    dates that never go back (it, or the whole page read so far, is out of order); else ``None``. A run shorter
    than :data:`IN_ORDER_AT_LEAST`, or shorter than half the dates read, says nothing. An entry before the run's
    first date or after its last may lie :data:`ONE_SIDED_WINDOW` beyond it."""
    dated = [i for i, v in enumerate(values) if v is not None]
    ending: dict[int, int] = {}
    for i in dated:
        ending[i] = 1 + max((ending[j] for j in dated if j < i and values[j] <= values[i]), default=0)
    starting: dict[int, int] = {}
    for i in reversed(dated):
        starting[i] = 1 + max((starting[j] for j in dated if j > i and values[j] >= values[i]), default=0)
    longest = max(ending.values(), default=0)
    if longest < IN_ORDER_AT_LEAST or 2 * longest < len(dated):
        return [None] * len(values)
    in_order = [i for i in dated if ending[i] + starting[i] - 1 == longest]
    out: list[tuple[str, str] | None] = []
    for i in range(len(values)):
        if i in in_order:
            out.append(None)
            continue
        before = [values[j] for j in in_order if j < i]
        after = [values[j] for j in in_order if j > i]
        low, high = max(before, default=None), min(after, default=None)
        if low is None:
            low = (date.fromisoformat(high) - ONE_SIDED_WINDOW).isoformat()
        if high is None:
            high = (date.fromisoformat(low) + ONE_SIDED_WINDOW).isoformat()
        out.append((low, high) if low <= high else None)
    return out


def date_readings_between(text: str, low: str, high: str) -> list[str]:
    """``text`` (a date as read) with one digit changed, dropped or added in one of its runs of digits, each
    reading that is a whole date between ``low`` and ``high`` (ISO, both included): "17-02-2004" between
    2004-03-15 and 2004-04-29 → "17-03-2004", "17-04-2004"; "22/1/2019" between 1999-12-02 and 1999-12-26 → none
    (two digits off)."""
    out: list[str] = []
    for m in _DIGITS.finditer(text or ""):
        for new in one_digit_off(m[0]):
            reading = text[:m.start()] + new + text[m.end():]
            value = full_date(reading)
            if value is not None and low <= value <= high and reading not in out:
                out.append(reading)
    return out


def one_digit_off(run: str, separator: str | None = None) -> list[str]:
    """The run of digits ``run`` with one digit changed, added or dropped (never to nothing), or, given a
    ``separator``, cut in two by it; sorted, ``run`` itself not among them."""
    changed = {run[:k] + d + run[k:] for k in range(len(run) + 1) for d in "0123456789"}
    changed |= {run[:k] + d + run[k + 1:] for k in range(len(run)) for d in "0123456789"}
    if len(run) > 1:
        changed |= {run[:k] + run[k + 1:] for k in range(len(run))}
    if separator:
        changed |= {run[:k] + separator + run[k:] for k in range(1, len(run))}
    return sorted(changed - {run})


def readable_date(text: str) -> bool:
    """Whether ``text`` reads as a date (whole, or a year alone) without an error, its year between
    ``OLDEST_PLAUSIBLE_YEAR`` and :data:`LATEST_YEAR`."""
    result = normalize_value(ValueKind.DATE, text)
    value = result.value
    return (isinstance(value, str) and len(value) in (4, 10)
            and not {"date_invalid", "date_unreadable"} & set(result.flags)
            and OLDEST_PLAUSIBLE_YEAR <= int(value[:4]) <= LATEST_YEAR)


def date_readings_readable(text: str) -> list[str]:
    """``text`` (a date read as none: "19/6/193", "21.18.1997", "39.70", "196") with one digit changed, dropped
    or added in one of its runs of digits, or one run cut in two by the separator it writes (a full stop where it
    writes none), each reading that reads as a date (:func:`readable_date`): "19/6/1938", "21.8.1997",
    "3.9.70", "1936". None for text with no digits or that reads as a date already."""
    if not text or not any(c.isdigit() for c in text) or readable_date(text):
        return []
    separator = next((c for c in text if c in "./-"), ".")
    out: list[str] = []
    for m in _DIGITS.finditer(text):
        for new in one_digit_off(m[0], separator):
            reading = text[:m.start()] + new + text[m.end():]
            if reading not in out and readable_date(reading):
                out.append(reading)
    return out


__all__ = ["DATE_CONTRADICTIONS", "IN_ORDER_AT_LEAST", "ONE_SIDED_WINDOW", "date_contradictions",
           "date_readings_between", "date_readings_readable", "dates_out_of_order", "full_date", "one_digit_off",
           "readable_date", "year_readings"]
