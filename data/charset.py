"""The character set every hotich text lives in: NFC Vietnamese as officers write it in register books.

Generators must produce only these characters, the recognizer's tokenizer is built from them, and
:func:`normalize_text` is the one place where outside text (labels, corrections) is brought into it.
"""
from __future__ import annotations

import re
import unicodedata

# Twelve vowel bases times six tones (level, grave, acute, hook, tilde, dot), in that order.
_VOWEL_TABLE = {
    "a": "aàáảãạ", "ă": "ăằắẳẵặ", "â": "âầấẩẫậ", "e": "eèéẻẽẹ", "ê": "êềếểễệ", "i": "iìíỉĩị",
    "o": "oòóỏõọ", "ô": "ôồốổỗộ", "ơ": "ơờớởỡợ", "u": "uùúủũụ", "ư": "ưừứửữự", "y": "yỳýỷỹỵ",
}
VOWELS_LOWER = "".join(_VOWEL_TABLE.values())
VOWELS = VOWELS_LOWER + VOWELS_LOWER.upper()
# Letters without marks; f, j, w, z are kept because foreign names and some place names use them.
CONSONANTS = "bcdfghjklmnpqrstvwxz" + "bcdfghjklmnpqrstvwxz".upper() + "đĐ"
DIGITS = "0123456789"
# Punctuation seen in ledgers and addresses (Cinnamon labels use: space # ' ( ) + , - . / :).
PUNCTUATION = " !\"#%&'()*+,-./:;?"
CHARSET = "".join(dict.fromkeys(VOWELS + CONSONANTS + DIGITS + PUNCTUATION))
_CHARSET_SET = frozenset(CHARSET)

# Look-alikes that scanners, keyboards and Label Studio corrections bring in, mapped into the charset.
_REPLACEMENTS = {
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
    "\u00a0": " ", "\t": " ", "\u2026": "...", "\u0110": "Đ", "\u00d0": "Đ", "\u0111": "đ",
}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def normalize_text(text: str) -> str:
    """NFC, look-alike punctuation mapped into the charset, runs of spaces collapsed, ends stripped."""
    text = nfc(text)
    text = "".join(_REPLACEMENTS.get(c, c) for c in text)
    return " ".join(text.split())


def out_of_charset(text: str) -> set[str]:
    """The characters of ``text`` that are not in :data:`CHARSET` (empty when the text is clean)."""
    return {c for c in text if c not in _CHARSET_SET}


def in_charset(text: str) -> bool:
    return text == nfc(text) and not out_of_charset(text)


_TONES = "\u0300\u0301\u0309\u0303\u0323"  # grave, acute, hook, tilde, dot below (NFD)
# A tone on the second vowel of a syllable-final oa, oe or uy (not the u of "qu"): "hoà" → "hòa", "thuý" →
# "thúy", "khoẻ" → "khỏe". Syllables with a final consonant ("hoàng", "quỳnh") are the same in both styles.
_OLD_STYLE_TONE = re.compile(f"(?<![qQ])([oO])([aAeE])([{_TONES}])(?![\\w\u0300-\u036f])"
                             f"|(?<![qQ])([uU])([yY])([{_TONES}])(?![\\w\u0300-\u036f])")


def modern_tone_placement(text: str) -> str:
    """The tone marks of ``text`` placed the one way ("Hòa", "Thủy", "Khỏe") where the old style writes
    them on the next vowel ("Hoà", "Thuỷ", "Khoẻ"): the same word, spelled two ways. NFC out."""
    decomposed = unicodedata.normalize("NFD", text)

    def move(m: re.Match) -> str:
        first, second, tone = (m[1], m[2], m[3]) if m[1] else (m[4], m[5], m[6])
        return first + tone + second

    return unicodedata.normalize("NFC", _OLD_STYLE_TONE.sub(move, decomposed))


def strip_marks(text: str) -> str:
    """Remove tone and vowel marks (ă â ê ô ơ ư → a a e o o u; đ → d); used for diacritic-blind metrics."""
    decomposed = unicodedata.normalize("NFD", text)
    base = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", base).replace("đ", "d").replace("Đ", "D")
