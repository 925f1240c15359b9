"""Entry numbers run on down a register page, and its registration dates fall in its volume's year.

Each book numbers its entries in order ("146/94", "147/94", "148/94", ...), so an entry number that its
neighbours on the page contradict is a misreading ("166/94" between "145/94" and "147/94", or a date read
into the number's cell). :func:`entry_numbers_from_sequence` says which numbers the neighbours fix; the page
pipeline then keeps the number they say, with the flag ``entry_number_from_sequence`` and the text it read.

A volume numbered by its year ("01/2004") holds the registrations of that year, so a volume year that the
page's registration dates contradict by one digit ("01/2014" over dates of 2004) is a misreading:
:func:`volume_year_from_dates` says the year they give (flag ``volume_year_from_dates``).

A register numbers its entries anew each year, so a number written with a year ("246/21") carries the year of
its registration: one whose year the page's registration dates contradict ("246/2011" among dates of 2021) is
a misreading, and :func:`entry_number_years_from_dates` writes it with theirs (flag
``entry_number_year_from_dates``).

Entries are registered in order, so the registration year changes at most between two entries, never for one
entry alone: a registration year one digit off the year of the entries on either side, which agree ("1984"
between two of 1994), is a misreading; :func:`registration_years_from_sequence` says which, and
:func:`with_year` writes the date read with that year (flag ``registration_year_from_sequence``). Where the
volume is numbered by its year and most of the page's dates hold it, that year outweighs the neighbours:
:func:`registration_years_from_volume` (flag ``registration_year_from_volume``).
Where too few numbers are read right for any to vouch ("45/1988", "năm", "4/2005", "14/2005", "19/2005" for 43
and 45 to 48), the page's numbers are read again as one run: :func:`sequence_starts` says which first numbers
are worth trying and :func:`sequence_reading` writes an entry's number in a run, and the page pipeline keeps
the run its crops read likeliest (flag ``entry_number_read_in_sequence``).
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from inference.records.date_readings import one_digit_off

_NUMBER = re.compile(r"(\d{1,6})(?:/(\d{4}))?")


def _parse(value: object) -> tuple[int, str | None] | None:
    """``"146/1994"`` → ``(146, "1994")``, ``"42"`` → ``(42, None)``; anything else → ``None``."""
    m = _NUMBER.fullmatch(value) if isinstance(value, str) else None
    return (int(m[1]), m[2]) if m else None


def _written(number: int, year: str | None) -> str:
    return f"{number}/{year}" if year else str(number)


def entry_numbers_from_sequence(values: Sequence[object]) -> list[tuple[str, tuple[int, int]] | None]:
    """For each entry of a page (top to bottom, blank rows left out), given the normalized values of their
    entry numbers (``"146/1994"``, ``"42"``, ``None`` where unread): where the entries around it run on by
    one and it says otherwise, ``(the number they say, (the two entries' indices))``; else ``None``.

    The entries on either side of an entry must agree (``n - 1`` above, ``n + 1`` below, the same year); the
    first and last entries of the page need the two entries after, or before, them to run on by one. A number
    read as no number at all ("24/01/1988" for "240/1988", "44/QĐ-UB") whose neighbours cannot vouch takes the
    number the nearest two entries running on by one count to it (a page may skip a number, so a number read
    as one is never overruled from afar). Only numbers as read vouch for another: a fixed number fixes
    nothing."""
    parsed = [_parse(v) for v in values]
    out: list[tuple[str, tuple[int, int]] | None] = []
    for i, own in enumerate(parsed):
        pair = vouching_pair(i, len(parsed))
        pa, pb = (parsed[pair[0]], parsed[pair[1]]) if pair else (None, None)
        if pa is None or pb is None or pb[0] - pa[0] != pair[1] - pair[0] or pa[1] != pb[1]:
            pair = _counting_pair(parsed, i) if own is None else None
            if pair is None:
                out.append(None)
                continue
            pa = parsed[pair[0]]
        expected = (pa[0] + i - pair[0], pa[1])
        out.append((_written(*expected), pair) if expected[0] > 0 and own != expected else None)
    return out


def _counting_pair(parsed: Sequence[tuple[int, str | None] | None], i: int) -> tuple[int, int] | None:
    """The nearest two neighbouring entries (other than ``i``) whose numbers as read run on by one in one
    year, as indices, or ``None``."""
    pairs = [(j, j + 1) for j in range(len(parsed) - 1) if i not in (j, j + 1)
             and parsed[j] is not None and parsed[j + 1] is not None
             and parsed[j + 1][0] - parsed[j][0] == 1 and parsed[j][1] == parsed[j + 1][1]]
    return min(pairs, key=lambda p: min(abs(p[0] - i), abs(p[1] - i)), default=None)


def page_year(years: Sequence[int | None]) -> int | None:
    """The year of at least two thirds (and at least two) of a page's registration dates as read, else
    ``None``."""
    read = [y for y in years if y is not None]
    if len(read) < 2:
        return None
    year, count = Counter(read).most_common(1)[0]
    return year if count >= max(2, 2 * len(read) / 3) else None


def entry_number_years_from_dates(values: Sequence[object], years: Sequence[int | None]) -> list[str | None]:
    """For each entry of a page (top to bottom), given the normalized values of their entry numbers
    (``"246/2011"``) and the years of their registration dates as read: the number written with the page's year
    (:func:`page_year`) where the year in the number is another, unless the entry's own registration date says
    that other year too (a page running over the new year); else ``None``. A register numbers its entries anew
    each year, so the year after the number is the registration's ("246/21" read "246/2011" over dates of
    2021). A number written without a year is left alone."""
    year = page_year(years)
    out: list[str | None] = []
    for value, own in zip(values, years):
        parsed = _parse(value)
        if year is None or parsed is None or parsed[1] is None or int(parsed[1]) == year or own == int(parsed[1]):
            out.append(None)
        else:
            out.append(_written(parsed[0], f"{year:04d}"))
    return out


def vouching_pair(i: int, n: int) -> tuple[int, int] | None:
    """The two entries of a page of ``n`` that vouch for entry ``i``: the ones on either side of it; for the
    first and last entries, the two after, or before, them; ``None`` on a page too short for that."""
    if 0 < i < n - 1:
        return i - 1, i + 1
    if i == 0 and n > 2:
        return 1, 2
    if i == n - 1 and i >= 2:
        return i - 2, i - 1
    return None


def _one_digit_off(a: int | str, b: int | str) -> bool:
    """Two four-digit years that differ in exactly one digit."""
    x, y = f"{int(a):04d}", f"{int(b):04d}"
    return sum(p != q for p, q in zip(x, y)) == 1


_VOLUME = re.compile(r"(\d{1,3})/(\d{4})")


def volume_year_from_dates(volume: object, years: Sequence[int]) -> str | None:
    """The volume number its page's registration years say, for a normalized volume ``"01/2014"`` whose year
    differs by one digit from the year of at least two thirds (and at least two) of the registration dates
    read on the page (``years``): ``"01/2004"``; else ``None`` (no year in the volume, too few dates, dates of
    several years, or a year further off than one misread digit)."""
    m = _VOLUME.fullmatch(volume) if isinstance(volume, str) else None
    year = page_year(years) if m is not None else None
    if year is None or len(str(year)) != 4 or not _one_digit_off(year, m[2]):
        return None
    return f"{m[1]}/{year}"


def registration_years_from_sequence(years: Sequence[int | None]) -> list[tuple[int, tuple[int, int]] | None]:
    """For each entry of a page (top to bottom, blank rows left out), given the years of their registration
    dates as read (``None`` where unread): where the entries on either side of it agree on a year (the first and
    last entries: the two after, or before, them) and its own year is that year with one digit misread,
    ``(their year, (the two entries' indices))``; else ``None``. A year further off is left alone (a page can
    run over the new year, and a date read wholly wrong is the normalizer's to flag)."""
    out: list[tuple[int, tuple[int, int]] | None] = []
    for i, own in enumerate(years):
        pair = vouching_pair(i, len(years))
        ya, yb = (years[pair[0]], years[pair[1]]) if pair else (None, None)
        if own is None or ya is None or ya != yb or own == ya or not _one_digit_off(own, ya):
            out.append(None)
            continue
        out.append((ya, pair))
    return out


def registration_years_from_volume(volume: object, years: Sequence[int | None],
                                   evidence: Sequence[int] | None = None) -> list[int | None] | None:
    """For each entry of a page (top to bottom), given the normalized volume number (``"01/2004"``) and the
    years of the entries' registration dates as read (``None`` where unread): where the volume is numbered by
    a year that is, or is one digit off, the year of two thirds of the page's ``evidence`` (:func:`page_year`;
    default: the dates' years; the page pipeline adds the years its entry numbers are written with), that year
    for each date one digit off it, else ``None``; ``None`` for the whole page where the volume names no year
    or the page does not vouch for it (the neighbours' rule, :func:`registration_years_from_sequence`, then
    speaks). A volume holds one year's registrations, so a date of that year stays as read even where both its
    neighbours were misread alike ("2003" between two "2013" in the volume "02/2003"), and a date whose
    neighbours were misread differently ("2001" above "2006" in "01/2004") is still fixed."""
    m = _VOLUME.fullmatch(volume) if isinstance(volume, str) else None
    year = page_year(years if evidence is None else evidence) if m is not None else None
    if year is None or len(str(year)) != 4 or not (int(m[2]) == year or _one_digit_off(year, m[2])):
        return None
    return [year if own is not None and own != year and _one_digit_off(own, year) else None for own in years]


_DIGITS = re.compile(r"\d+")


def sequence_starts(texts: Sequence[str | None], limit: int = 6) -> list[int]:
    """The first numbers of a page's run of entry numbers worth reading the page again with, given the text read
    in each filled entry's number field, top to bottom (``None`` where there is none): the first run of digits of
    each, less its entry's place on the page, votes twice for a start, and once as read with one digit changed,
    added or dropped (each entry once for each start); the starts that two entries vote for (three votes at
    least), most votes first, at most ``limit``."""
    votes: Counter = Counter()
    for i, text in enumerate(texts):
        m = _DIGITS.search(text or "")
        if m is None:
            continue
        ballot = {int(run) - i: 1 for run in one_digit_off(m[0]) if len(run) <= 4}
        ballot[int(m[0]) - i] = 2
        votes.update({start: weight for start, weight in ballot.items() if start >= 1})
    return [start for start, count in votes.most_common() if count >= 3][:limit]


def sequence_reading(text: str | None, number: int, suffix: str) -> list[str]:
    """The ways the entry number ``number`` may stand written in a field read as ``text``: its first run of
    digits replaced by ``number`` ("12/2006" → "71/2006"), and ``number`` followed by ``suffix``, the page's
    own way of writing its numbers ("/94" in "145/94"; for a field read as no number, "UBND", or as a date,
    "14/9/1944"); each once, ``text`` itself not among them."""
    out = []
    m = _DIGITS.search(text or "")
    if m is not None:
        out.append(text[:m.start()] + str(number) + text[m.end():])
    out.append(f"{number}{suffix}")
    return [t for t in dict.fromkeys(out) if t != text]


def sequence_suffix(texts: Sequence[str | None]) -> str:
    """How a page writes what follows its entry numbers ("/94", "/2002", or nothing): the most common tail of
    the texts read that are a number alone or a number and a year ("145/94"); none where no text is."""
    tails = Counter(m[1] or "" for m in (re.fullmatch(r"\d+(/\d{2}|/\d{4})?", t.strip()) for t in texts if t) if m)
    return tails.most_common(1)[0][0] if tails else ""


def with_year(text: str, read: int, year: int) -> str | None:
    """``text``, a date read with the year ``read``, written with ``year`` instead: its last run of the read
    year's four digits, else a two-digit year ending it ("11/1/01" → "11/1/04"); ``None`` where the year is not
    found written in it."""
    runs = list(re.finditer(r"\d+", text))
    for m in reversed(runs):
        if m[0] == f"{read:04d}":
            return text[:m.start()] + f"{year:04d}" + text[m.end():]
    if runs and len(runs[-1][0]) == 2 and runs[-1][0] == f"{read:04d}"[2:] and len(runs) > 1:
        m = runs[-1]
        return text[:m.start()] + f"{year:04d}"[2:] + text[m.end():]
    return None


__all__ = ["entry_number_years_from_dates", "entry_numbers_from_sequence", "page_year",
           "registration_years_from_sequence", "registration_years_from_volume", "sequence_reading",
           "sequence_starts", "sequence_suffix", "volume_year_from_dates", "vouching_pair", "with_year"]
