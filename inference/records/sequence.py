"""Entry numbers run on down a register page.

Each book numbers its entries in order ("146/94", "147/94", "148/94", ...), so an entry number that its
neighbours on the page contradict is a misreading ("166/94" between "145/94" and "147/94", or a date read
into the number's cell). :func:`entry_numbers_from_sequence` says which numbers the neighbours fix; the page
pipeline then keeps the number they say, with the flag ``entry_number_from_sequence`` and the text it read.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

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
    first and last entries of the page need the two entries after, or before, them to run on by one. Only
    numbers as read vouch for another: a fixed number fixes nothing."""
    parsed = [_parse(v) for v in values]
    out: list[tuple[str, tuple[int, int]] | None] = []
    for i, own in enumerate(parsed):
        if 0 < i < len(parsed) - 1:
            a, b, step, expected_of = i - 1, i + 1, 2, lambda p: p[0] + 1
        elif i == 0 and len(parsed) > 2:
            a, b, step, expected_of = 1, 2, 1, lambda p: p[0] - 1
        elif i == len(parsed) - 1 and i >= 2:
            a, b, step, expected_of = i - 2, i - 1, 1, lambda p: p[0] + 2
        else:
            out.append(None)
            continue
        pa, pb = parsed[a], parsed[b]
        if pa is None or pb is None or pb[0] - pa[0] != step or pa[1] != pb[1]:
            out.append(None)
            continue
        expected = (expected_of(pa), pa[1])
        out.append((_written(*expected), (a, b)) if expected[0] > 0 and own != expected else None)
    return out


__all__ = ["entry_numbers_from_sequence"]
