"""Tolerant lookup of recognized text in closed vocabularies (code tables, ethnic groups, countries...).

Recognized handwriting differs from the vocabulary in harmless ways (case, spacing, hyphens, the old tone
placement "Hoà" for "Hòa", "kí" for "ký") and in OCR errors (a lost or wrong diacritic, one wrong letter).
:func:`fold` removes the harmless differences; :class:`Vocabulary` then tries an exact match, a match
without diacritics and finally a rapidfuzz ratio, and says how sure it is.
"""
from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from rapidfuzz import fuzz, process

from data.charset import normalize_text, strip_marks

V = TypeVar("V", bound=Hashable)

# Old ("hoà", "thuỷ") to new ("hòa", "thủy") tone placement, the two spellings both found in books.
_OLD_TONES = {
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}
_OLD_TONE_RE = re.compile("(" + "|".join(_OLD_TONES) + r")(?![\w])")
# i / y spellings of the same syllable ("đăng kí" / "đăng ký").
_I_Y = {"kí": "ký", "lí": "lý", "mĩ": "mỹ", "kĩ": "kỹ", "sĩ": "sỹ"}
_PUNCT = re.compile(r"[\-‐'’`\".,;:()/]+")


def fold(text: str) -> str:
    """The comparison key of ``text``: NFC, lower case, new tone placement, i/y unified, punctuation as
    spaces, single spaces. ``fold("Đăng kí  lại") == fold("đăng ký lại")``; ``fold("Khơ-me") == "khơ me"``."""
    s = normalize_text(text).lower()
    s = _OLD_TONE_RE.sub(lambda m: _OLD_TONES[m.group(1)], s)
    s = _PUNCT.sub(" ", s)
    return " ".join(_I_Y.get(w, w) for w in s.split())


def bare(text: str) -> str:
    """:func:`fold` without any diacritics (``"đăng ký lại"`` → ``"dang ky lai"``)."""
    return strip_marks(fold(text))


@dataclass(frozen=True)
class Match(Generic[V]):
    """The vocabulary value found for a text: ``score`` 1.0 for an exact (folded) match, a bit less without
    diacritics, the rapidfuzz ratio / 100 otherwise; ``ambiguous`` when another value scored about the same."""

    value: V
    score: float
    exact: bool
    ambiguous: bool = False


class Vocabulary(Generic[V]):
    """Written forms → canonical values, searched exactly, without diacritics, then fuzzily.

    ``cutoff`` is the lowest fuzzy score (0..1) accepted; short texts need a clear winner (``margin``).
    """

    def __init__(self, forms: Mapping[str, V] | Iterable[tuple[str, V]], *, cutoff: float = 0.75,
                 margin: float = 0.06) -> None:
        pairs = list(forms.items()) if isinstance(forms, Mapping) else list(forms)
        if not pairs:
            raise ValueError("a vocabulary needs at least one form")
        self.cutoff, self.margin = cutoff, margin
        self._exact: dict[str, V] = {}
        self._bare: dict[str, set[V]] = {}
        for form, value in pairs:
            key = fold(form)
            if not key:
                continue
            if self._exact.get(key, value) != value:
                raise ValueError(f"form {form!r} maps to two values: {self._exact[key]!r} and {value!r}")
            self._exact[key] = value
            self._bare.setdefault(strip_marks(key), set()).add(value)
        self._keys = list(self._exact)
        self._bare_keys = list(self._bare)

    @property
    def values(self) -> set[V]:
        return set(self._exact.values())

    def forms(self) -> list[tuple[str, V]]:
        """Every written form (as compared: :func:`fold`) with its value."""
        return list(self._exact.items())

    def lookup(self, text: str) -> Match[V] | None:
        """The best value for ``text``, or ``None`` when nothing reaches the cutoff."""
        key = fold(text)
        if not key:
            return None
        if key in self._exact:
            return Match(self._exact[key], 1.0, True)
        plain = strip_marks(key)
        values = self._bare.get(plain)
        if values is not None and len(values) == 1 and plain == key:
            # The same letters without any mark: OCR (or the writer) dropped the diacritics.
            return Match(next(iter(values)), 0.95, False)
        # Other marks than the vocabulary's ("Khơ mư" for "Khơ Mú") are real disagreements: fuzzy scores.
        return self._fuzzy(key, plain)

    def _fuzzy(self, key: str, plain: str) -> Match[V] | None:
        scored: dict[V, float] = {}
        for value_key, score, _ in process.extract(key, self._keys, scorer=fuzz.ratio, limit=8):
            value = self._exact[value_key]
            scored[value] = max(scored.get(value, 0.0), score / 100)
        # Without diacritics the letters carry less information: count a little less, and clearly less when
        # the text had marks that disagree with the vocabulary's.
        weight = 0.95 if plain == key else 0.85
        for bare_key, score, _ in process.extract(plain, self._bare_keys, scorer=fuzz.ratio, limit=8):
            for value in self._bare[bare_key]:
                scored[value] = max(scored.get(value, 0.0), weight * score / 100)
        if not scored:
            return None
        ranked = sorted(scored.items(), key=lambda kv: -kv[1])
        best_value, best = ranked[0]
        if best < self.cutoff:
            return None
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        ambiguous = best - runner_up < self.margin
        return Match(best_value, round(best * (0.9 if ambiguous else 1.0), 4), False, ambiguous)
