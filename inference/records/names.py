"""Persons' names against the list of Vietnamese surnames.

Nearly every Vietnamese belongs to one of a few dozen clans (:data:`data.text.names.SURNAMES`: Nguyễn, Trần,
Lê, Phạm… cover well over nine in ten people), and the surname comes first. A first word that is no surname
("Thạm Văn Hải", "THẦN VĂN HOÈ") is most often one misread, so the listed surnames near it are the readings
worth trying on the line's crop (``inference.pages.PagePipeline.read_surnames_from_list``).
"""
from __future__ import annotations

from functools import lru_cache

from rapidfuzz import fuzz, process

from data.text.names import SURNAMES
from inference.records.matching import bare, fold

#: Surnames besides the generator's weighted list (:data:`data.text.names.SURNAMES`): smaller Kinh clans and
#: those of the northern and central highland peoples (Hmong, Thái, Tày, Nùng, Dao…), so that a rare surname
#: read right is not read again as a common one.
MORE_SURNAMES = (
    "Âu", "Bạch", "Bành", "Bế", "Cấn", "Chử", "Cù", "Đàm", "Diệp", "Đồng", "Giáp", "Giàng", "Hàn", "Hầu", "Khổng",
    "Kim", "Lã", "Lạc", "Lầu", "Lục", "Lữ", "Lường", "Ma", "Mẫn", "Mùa", "Nhữ", "Ninh", "Ông", "Phí", "Quàng",
    "Sầm", "Sùng", "Thân", "Thào", "Tiêu", "Tôn", "Tòng", "Trình", "Từ", "Vàng", "Vi", "Viên", "Ưng",
)

#: The listed surnames :func:`surname_readings` offers for a first word that is none: at most this many, each
#: at least this alike to the word read (rapidfuzz ratio of the folded words without marks, 0–100).
SURNAME_READINGS = 4
SURNAME_RATIO = 50


@lru_cache(maxsize=1)
def _surnames() -> dict[str, str]:
    """Folded surname → as written ("nguyễn" → "Nguyễn"), the generator's list and :data:`MORE_SURNAMES`."""
    return {fold(name): name for name in (*SURNAMES, *MORE_SURNAMES)}


@lru_cache(maxsize=1)
def _surnames_by_bare() -> dict[str, str]:
    """Surname without marks → as written ("nguyen" → "Nguyễn"); of two alike but for marks, the later."""
    return {bare(name): name for name in _surnames().values()}


def has_listed_surname(text: str) -> int:
    """1 where the first word of the name ``text`` is a listed surname (case and tone placement aside), else 0."""
    words = text.split()
    return int(bool(words) and fold(words[0]) in _surnames())


def reads_as_a_person(text: str) -> bool:
    """Whether ``text`` is shaped like a person's name and like nothing else: two to five words without digits
    or separators, a listed surname, then "Thị" or "Văn" ("Trần Thị Hiền", "LÊ VĂN NINH"). A place, an office
    or a date is never written so."""
    words = text.split()
    return (2 <= len(words) <= 5 and not any(c.isdigit() or c in ",;:-–/()" for c in text)
            and fold(words[0]) in _surnames() and fold(words[1]) in ("thị", "văn"))


def surname_readings(text: str) -> list[str]:
    """The name ``text`` with its first word replaced by each listed surname near it, in the case of the word
    read ("THẠM VĂN HẢI" → "PHẠM VĂN HẢI", "THÁI VĂN HẢI"…); none where the first word is a listed surname
    already, or the name is one word (a given name alone, or no name)."""
    words = text.split(" ")
    if len(text.split()) < 2 or not words[0] or has_listed_surname(text):
        return []
    read = words[0]
    plain = _surnames_by_bare()
    out = []
    for key, _, _ in process.extract(bare(read), list(plain), scorer=fuzz.ratio, limit=SURNAME_READINGS,
                                     score_cutoff=SURNAME_RATIO):
        name = plain[key]
        name = name.upper() if read.isupper() and len(read) > 1 else name
        reading = " ".join([name, *words[1:]])
        if reading != text and reading not in out:
            out.append(reading)
    return out


__all__ = ["MORE_SURNAMES", "SURNAME_RATIO", "SURNAME_READINGS", "has_listed_surname", "reads_as_a_person",
           "surname_readings"]
