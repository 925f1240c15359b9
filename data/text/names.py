"""Vietnamese full names with realistic surname, middle-name and given-name frequencies.

A name is surname + middle name(s) + given name ("Nguyễn Thị Hoa"). Surname shares follow published estimates
(Nguyễn about 38%, Trần 11%, Lê 9.5%, Phạm 7%...). Middle names depend on gender and birth year: "Thị" for
women and "Văn" for men dominate people born before the 1980s and fade after 2000, when Ngọc, Minh, Gia,
Bảo, Khánh... take over. Given names carry an era tag so old-fashioned names (Lụa, Mận, Tý) show up in old
books and modern ones (Vy, Hân, Khang) in recent ones. Officers write names in Title Case or UPPER CASE.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from data.charset import nfc
from data.text.weighted import WeightedTable

MALE, FEMALE = 1, 2  # GioiTinh codes

# Surname -> share in percent. The 14 largest are published figures; Hoàng/Huỳnh and Vũ/Võ are split north vs
# south spellings of one name; the tail is spread over common smaller clans.
SURNAMES: dict[str, float] = {
    "Nguyễn": 38.4, "Trần": 11.0, "Lê": 9.5, "Phạm": 7.0, "Hoàng": 3.2, "Huỳnh": 1.9, "Phan": 4.5, "Vũ": 2.3,
    "Võ": 1.6, "Đặng": 2.1, "Bùi": 2.0, "Đỗ": 1.4, "Hồ": 1.3, "Ngô": 1.3, "Dương": 1.0, "Lý": 0.5,
    "Đào": 0.9, "Đoàn": 0.8, "Đinh": 0.8, "Trịnh": 0.7, "Trương": 0.7, "Mai": 0.6, "Lương": 0.5, "Cao": 0.5,
    "Hà": 0.5, "Tạ": 0.4, "Lưu": 0.4, "Phùng": 0.4, "Vương": 0.3, "Tô": 0.3, "Lâm": 0.3, "Chu": 0.3,
    "Khúc": 0.2, "Nghiêm": 0.2, "Kiều": 0.2, "Quách": 0.2, "Thái": 0.2, "Châu": 0.2, "Lại": 0.2, "Tăng": 0.1,
    "Triệu": 0.2, "Mạc": 0.1, "Hứa": 0.1, "Doãn": 0.1, "Văn": 0.1, "Lò": 0.1, "Nông": 0.2, "La": 0.1,
}

# Middle names other than Thị/Văn, by gender: (name, weight, era) with era "old" (born before ~1975),
# "mid" (1975-1999), "new" (2000 on) or "any".
_MIDDLE_FEMALE: tuple[tuple[str, float, str], ...] = (
    ("Ngọc", 6, "any"), ("Thu", 4, "any"), ("Thanh", 4, "any"), ("Minh", 3, "new"), ("Phương", 3, "any"),
    ("Bảo", 3, "new"), ("Khánh", 3, "new"), ("Hải", 2, "mid"), ("Thùy", 3, "mid"), ("Mai", 2, "any"),
    ("Hồng", 3, "mid"), ("Kim", 3, "any"), ("Diệu", 2, "mid"), ("Bích", 2, "mid"), ("Quỳnh", 2, "new"),
    ("Hoài", 2, "any"), ("Tuyết", 1, "mid"), ("Thúy", 2, "mid"), ("Gia", 2, "new"), ("Cẩm", 1, "any"),
    ("Như", 2, "new"), ("Thảo", 2, "new"), ("Tú", 1, "new"), ("Vân", 1, "any"), ("Hà", 1, "any"),
    ("Lan", 1, "any"), ("Hương", 1, "any"), ("Hoàng", 1, "new"), ("Yến", 1, "new"), ("An", 1, "new"),
    ("Tường", 1, "new"), ("Trúc", 1, "new"), ("Xuân", 2, "any"), ("Hạnh", 1, "mid"), ("Huyền", 1, "new"),
)
_MIDDLE_MALE: tuple[tuple[str, float, str], ...] = (
    ("Đức", 6, "any"), ("Minh", 6, "any"), ("Quang", 4, "any"), ("Hữu", 4, "any"), ("Xuân", 3, "any"),
    ("Công", 3, "any"), ("Thành", 2, "any"), ("Trọng", 3, "any"), ("Ngọc", 3, "any"), ("Hoàng", 3, "new"),
    ("Anh", 2, "new"), ("Gia", 4, "new"), ("Bảo", 3, "new"), ("Khánh", 2, "new"), ("Đăng", 2, "new"),
    ("Tuấn", 2, "mid"), ("Duy", 2, "new"), ("Quốc", 3, "any"), ("Hải", 2, "any"), ("Mạnh", 2, "mid"),
    ("Tiến", 2, "mid"), ("Thế", 2, "any"), ("Trung", 2, "any"), ("Việt", 2, "mid"), ("Hồng", 1, "old"),
    ("Phúc", 1, "new"), ("Nhật", 2, "new"), ("Thanh", 3, "any"), ("Huy", 1, "new"), ("Đình", 5, "any"),
    ("Bá", 2, "old"), ("Doãn", 1, "old"), ("Kim", 1, "old"), ("Chí", 2, "any"), ("Tấn", 1, "any"),
    ("Thiện", 1, "new"), ("Tùng", 1, "new"), ("Hùng", 1, "mid"), ("Phú", 1, "any"), ("Sỹ", 1, "any"),
)

_GIVEN_FEMALE: tuple[tuple[str, float, str], ...] = (
    ("Anh", 5, "new"), ("Ánh", 2, "any"), ("An", 2, "new"), ("Bích", 1, "mid"), ("Châu", 1, "any"),
    ("Chi", 3, "new"), ("Cúc", 2, "old"), ("Diệp", 1, "new"), ("Dung", 3, "mid"), ("Duyên", 2, "mid"),
    ("Giang", 3, "any"), ("Hà", 4, "any"), ("Hạnh", 3, "mid"), ("Hằng", 4, "mid"), ("Hiền", 4, "any"),
    ("Hoa", 5, "any"), ("Hồng", 3, "old"), ("Huệ", 2, "old"), ("Huyền", 4, "mid"), ("Hương", 5, "any"),
    ("Hường", 2, "old"), ("Khánh", 1, "new"), ("Lan", 4, "any"), ("Liên", 2, "old"), ("Liễu", 1, "old"),
    ("Linh", 5, "new"), ("Loan", 2, "mid"), ("Lụa", 1, "old"), ("Ly", 2, "new"), ("Mai", 4, "any"),
    ("Mến", 1, "old"), ("My", 3, "new"), ("Mỹ", 1, "mid"), ("Nga", 3, "mid"), ("Ngân", 3, "new"),
    ("Ngọc", 3, "any"), ("Nguyệt", 2, "mid"), ("Nhàn", 2, "old"), ("Nhung", 3, "mid"), ("Nhi", 3, "new"),
    ("Oanh", 2, "mid"), ("Phương", 4, "any"), ("Phượng", 2, "mid"), ("Quyên", 1, "mid"), ("Quỳnh", 3, "new"),
    ("Sen", 1, "old"), ("Tâm", 2, "any"), ("Thảo", 4, "any"), ("Thắm", 2, "old"), ("Thanh", 2, "any"),
    ("Thơ", 1, "mid"), ("Thu", 3, "any"), ("Thủy", 4, "mid"), ("Thúy", 3, "mid"), ("Thùy", 1, "new"),
    ("Thư", 3, "new"), ("Thương", 2, "mid"), ("Trang", 5, "any"), ("Trâm", 2, "new"), ("Tuyết", 2, "old"),
    ("Uyên", 2, "new"), ("Vân", 3, "any"), ("Vy", 3, "new"), ("Xuân", 2, "old"), ("Yến", 3, "any"),
    ("Hậu", 1, "mid"), ("Hoài", 1, "mid"), ("Đào", 1, "old"), ("Điệp", 1, "mid"), ("Gấm", 1, "old"),
    ("Kim", 1, "old"), ("Len", 1, "old"), ("Mận", 1, "old"), ("Nụ", 1, "old"), ("Tươi", 1, "old"),
    ("Nhài", 1, "old"), ("Hòa", 2, "old"), ("Thoa", 2, "old"), ("Hân", 2, "new"), ("Diệu", 1, "new"),
    ("Ngà", 1, "mid"), ("Trinh", 2, "mid"), ("Thơm", 1, "old"), ("Lệ", 1, "old"), ("Mơ", 1, "old"),
    ("Quế", 1, "old"), ("Vui", 1, "old"), ("Hải", 1, "mid"), ("Tuyền", 1, "new"), ("Như", 1, "new"),
)
_GIVEN_MALE: tuple[tuple[str, float, str], ...] = (
    ("An", 2, "any"), ("Anh", 5, "any"), ("Bảo", 2, "new"), ("Bình", 3, "any"), ("Cường", 4, "mid"),
    ("Chiến", 3, "old"), ("Công", 2, "any"), ("Dũng", 5, "mid"), ("Duy", 3, "new"), ("Dương", 2, "any"),
    ("Đạt", 4, "new"), ("Đức", 4, "any"), ("Định", 1, "old"), ("Đông", 2, "any"), ("Giang", 2, "any"),
    ("Hải", 4, "any"), ("Hào", 1, "mid"), ("Hiếu", 3, "new"), ("Hiệp", 2, "mid"), ("Hòa", 2, "old"),
    ("Hoàng", 3, "any"), ("Hùng", 5, "mid"), ("Huy", 4, "new"), ("Hưng", 3, "any"), ("Khang", 2, "new"),
    ("Khánh", 2, "new"), ("Khoa", 2, "new"), ("Kiên", 2, "mid"), ("Lâm", 2, "new"), ("Lợi", 2, "old"),
    ("Long", 4, "any"), ("Luân", 1, "mid"), ("Mạnh", 3, "mid"), ("Minh", 5, "any"), ("Nam", 4, "any"),
    ("Nghĩa", 3, "mid"), ("Nhân", 2, "any"), ("Ninh", 1, "old"), ("Phong", 3, "any"), ("Phúc", 3, "new"),
    ("Phú", 2, "any"), ("Quân", 3, "new"), ("Quang", 3, "any"), ("Quý", 2, "old"), ("Sơn", 4, "any"),
    ("Tài", 2, "any"), ("Tâm", 2, "any"), ("Thắng", 4, "mid"), ("Thành", 4, "any"), ("Thanh", 2, "old"),
    ("Thịnh", 2, "any"), ("Toàn", 3, "mid"), ("Trung", 4, "any"), ("Trường", 2, "any"), ("Tuấn", 5, "mid"),
    ("Tùng", 3, "mid"), ("Vinh", 3, "any"), ("Việt", 2, "mid"), ("Vũ", 2, "new"), ("Bằng", 1, "old"),
    ("Cảnh", 1, "old"), ("Chính", 2, "old"), ("Hậu", 1, "mid"), ("Khải", 1, "any"), ("Lực", 1, "old"),
    ("Quyết", 2, "old"), ("Tạo", 1, "old"), ("Thuận", 2, "any"), ("Tiến", 3, "mid"), ("Tú", 2, "mid"),
    ("Xuân", 1, "old"), ("Chung", 1, "old"), ("Tý", 1, "old"), ("Sửu", 1, "old"), ("Dần", 1, "old"),
    ("Thìn", 1, "old"), ("Hợi", 1, "old"), ("Khôi", 2, "new"), ("Phát", 2, "new"), ("Bách", 1, "new"),
    ("Nguyên", 2, "new"), ("Kiệt", 1, "new"), ("Thiện", 1, "new"), ("Đăng", 1, "new"), ("Khiêm", 1, "new"),
    ("Lộc", 2, "any"), ("Sáng", 1, "old"), ("Thái", 1, "any"), ("Tuyên", 1, "old"), ("Vượng", 1, "old"),
    ("Hòe", 1, "old"), ("Thủy", 1, "old"), ("Huân", 1, "mid"), ("Thực", 1, "old"), ("Hiển", 1, "old"),
)

#: Every given name the generator draws, and every middle name ("Thị" and "Văn" first), each once.
GIVEN_NAMES: tuple[str, ...] = tuple(dict.fromkeys(n for n, _, _ in (*_GIVEN_FEMALE, *_GIVEN_MALE)))
MIDDLE_NAMES: tuple[str, ...] = tuple(dict.fromkeys(("Thị", "Văn", *(n for n, _, _ in (*_MIDDLE_FEMALE, *_MIDDLE_MALE)))))

# How much each era tag counts for a person born in each period.
_ERA_WEIGHT = {
    "old": {"old": 1.0, "mid": 0.35, "new": 0.03, "any": 0.8},
    "mid": {"old": 0.3, "mid": 1.0, "new": 0.3, "any": 0.8},
    "new": {"old": 0.03, "mid": 0.35, "new": 1.0, "any": 0.8},
}
# Share of "Thị" (women) / "Văn" (men) among middle names by period of birth.
_TRADITIONAL_SHARE = {
    FEMALE: {"old": 0.88, "mid": 0.62, "new": 0.22},
    MALE: {"old": 0.78, "mid": 0.50, "new": 0.18},
}
# Old-style tone placement ("Hoà", "Thuỷ") that many officers keep; same word, different spelling.
_OLD_TONE_PLACEMENT = {"Hòa": "Hoà", "Thủy": "Thuỷ", "Thúy": "Thuý", "Thùy": "Thuỳ", "Hòe": "Hoè", "Khỏe": "Khoẻ"}


def era_of_birth(birth_year: int | None) -> str:
    """``"old"`` (born before 1975), ``"mid"`` (1975-1999) or ``"new"`` (2000 on); ``None`` counts as mid."""
    if birth_year is None:
        return "mid"
    return "old" if birth_year < 1975 else "mid" if birth_year < 2000 else "new"


@dataclass(frozen=True)
class PersonName:
    """A full name split into its parts; ``gender`` is 1 (Nam) or 2 (Nữ)."""

    surname: str
    middle: tuple[str, ...]
    given: str
    gender: int

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.surname, *self.middle, self.given)

    def text(self, upper: bool = False) -> str:
        """Title Case ("Nguyễn Thị Hoa") or UPPER CASE ("NGUYỄN THỊ HOA") as officers write it."""
        s = " ".join(self.parts)
        return nfc(s.upper() if upper else s)

    def __str__(self) -> str:
        return self.text()


@lru_cache(maxsize=None)
def _surname_table() -> WeightedTable:
    return WeightedTable(SURNAMES)


@lru_cache(maxsize=None)
def _era_table(kind: str, gender: int, era: str) -> WeightedTable:
    source = {("middle", MALE): _MIDDLE_MALE, ("middle", FEMALE): _MIDDLE_FEMALE,
              ("given", MALE): _GIVEN_MALE, ("given", FEMALE): _GIVEN_FEMALE}[(kind, gender)]
    weights = _ERA_WEIGHT[era]
    return WeightedTable([(n, w * weights[e]) for n, w, e in source])


def _check_gender(gender: int) -> None:
    if gender not in (MALE, FEMALE):
        raise ValueError(f"gender must be {MALE} (Nam) or {FEMALE} (Nữ), got {gender!r}")


def random_surname(rng: random.Random) -> str:
    return _surname_table().draw(rng)


def random_middle_name(rng: random.Random, gender: int, birth_year: int | None = None) -> str:
    _check_gender(gender)
    era = era_of_birth(birth_year)
    if rng.random() < _TRADITIONAL_SHARE[gender][era]:
        return "Thị" if gender == FEMALE else "Văn"
    return _era_table("middle", gender, era).draw(rng)


def random_given_name(rng: random.Random, gender: int, birth_year: int | None = None) -> str:
    _check_gender(gender)
    return _era_table("given", gender, era_of_birth(birth_year)).draw(rng)


def random_name(rng: random.Random, gender: int | None = None, birth_year: int | None = None, *,
                surname: str | None = None, old_spelling: bool | None = None) -> PersonName:
    """A random :class:`PersonName`; ``gender`` random when ``None``; ``surname`` fixes the family name
    (children usually take the father's). About one name in twelve (more for recent births) has four
    syllables: a second middle name or the mother's surname ("Nguyễn Lê Minh Anh")."""
    if gender is None:
        gender = rng.choice((MALE, FEMALE))
    _check_gender(gender)
    era = era_of_birth(birth_year)
    surname = surname or random_surname(rng)
    middle = [random_middle_name(rng, gender, birth_year)]
    given = random_given_name(rng, gender, birth_year)
    four_share = {"old": 0.03, "mid": 0.07, "new": 0.15}[era]
    if rng.random() < four_share:
        if rng.random() < 0.35:
            second = random_surname(rng)  # double family name (mother's), never the gender marker "Văn"
            if second not in (surname, "Văn"):
                middle.insert(0, second)
        else:
            extra = _era_table("middle", gender, era).draw(rng)
            if extra not in middle:
                middle.append(extra)
    for _ in range(5):  # a given name repeating the middle name ("Minh Minh") is not a name
        if given not in middle:
            break
        given = random_given_name(rng, gender, birth_year)
    parts = [*middle, given]
    if old_spelling is None:
        old_spelling = rng.random() < (0.5 if era == "old" else 0.15)
    if old_spelling:
        parts = [_OLD_TONE_PLACEMENT.get(p, p) for p in parts]
    return PersonName(surname, tuple(parts[:-1]), parts[-1], gender)


def write_name(rng: random.Random, name: PersonName, upper: bool | None = None) -> str:
    """The name as an officer writes it: UPPER CASE in about a third of hands, else Title Case."""
    if upper is None:
        upper = rng.random() < 0.3
    return name.text(upper)


def guess_gender(full_name: str) -> int | None:
    """1 or 2 from the traditional middle name ("Văn" / "Thị"); ``None`` when the name does not say."""
    words = nfc(full_name).split()
    middle = {w.lower() for w in words[1:-1]}
    if "thị" in middle:
        return FEMALE
    if "văn" in middle:
        return MALE
    return None
