"""A date the entry's other dates contradict, and the readings of its year that would not.

An entry's dates hold together: a child is born before it is registered and after its parents were old enough,
a death follows the birth and precedes its registration, spouses are of age. Where one of them breaks that
(:data:`DATE_CONTRADICTIONS`, the flags of :mod:`inference.records.validate`), one of the dates is misread, and
a misread year is most often one digit off ("1980" for "1960"). :func:`year_readings` gives a date's readings
with one digit of its year changed; :func:`date_contradictions` counts what an entry's fields break, so that
the page pipeline can read the date again with the year that agrees with the rest, where its crop scores that
reading nearly as well (``PagePipeline.read_dates_against_entry``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from inference.records.dates import OLDEST_PLAUSIBLE_YEAR
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


__all__ = ["DATE_CONTRADICTIONS", "date_contradictions", "year_readings"]
