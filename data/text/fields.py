"""Handwritten text for any field of any register book, and whole records that hang together.

:func:`generate_field` writes one cell; :func:`generate_record` writes a row whose values agree with each
other the way a real entry does: the child is born before the registration, parents are 18-45 years older,
the declarant's name is the father's when the relationship says "cha", the middle name fits the gender, the
date in words is the numeric date, identity numbers encode the holder's gender and birth year, and entry,
volume and page numbers follow the registration date. One officer writes a record, so names, dates and
places share a :class:`Hand` (upper-case names, date style, address style).

``era`` is the registration year. Everything is drawn from the ``random.Random`` passed in: the same seed
gives the same text.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Callable

from data.charset import nfc
from data.schema import Book, Field, ValueKind, get_book
from data.text.dates import (
    DEFAULT_MAX_YEAR, Case, DateStyle, ParsedDate, date_in_words, random_date, random_date_style, write_date,
)
from data.text.names import FEMALE, MALE, PersonName, random_name, write_name
from data.text.numbers import (
    cccd_number, decision_number, entry_number, id_document_number, page_number, time_of_day, volume_number,
)
from data.text.places import (
    AdminUnit, PlaceStyle, Triple, birth_facility, random_admin_units, random_structured_place,
    registration_office, write_unit,
)
from data.text.vocab import (
    FOREIGN_CITIES, FOREIGN_NAMES, RECOGNITION_TYPES, random_birth_case, random_birth_declarant,
    random_cause_of_death, random_death_notice_type, random_ethnicity, random_nationality,
    random_officer_title, random_residence_type, relationship_gender, write_ethnicity, write_gender,
    write_id_document_type, write_legal_status, write_nationality, write_recognition_type,
    write_registration_type, write_relationship,
)

MIN_ERA = 1900
MAX_ERA = DEFAULT_MAX_YEAR
DEFAULT_ERAS = (1975, 2024)  # the span of the books being digitized
# Books stop with the mid-2025 reorganization of communes; later dates would be anachronisms.
LAST_DATE = dt.date(DEFAULT_MAX_YEAR, 6, 30)
_EARLIEST = dt.date(1900, 1, 1)


def random_era(rng: random.Random, book_key: str | None = None) -> int:
    """A registration year in 1975-2024; later years weigh more (more entries, better-kept books)."""
    if book_key is not None:
        get_book(book_key)  # validate
    lo, hi = DEFAULT_ERAS
    years = range(lo, hi + 1)
    return rng.choices(years, [1 + (y - lo) / 25 for y in years])[0]


def _check_era(era: int) -> int:
    if isinstance(era, bool) or not isinstance(era, int) or not MIN_ERA <= era <= MAX_ERA:
        raise ValueError(f"era must be a registration year in {MIN_ERA}..{MAX_ERA}, got {era!r}")
    return era


@dataclass(frozen=True)
class Hand:
    """One officer's habits for one record: UPPER-CASE names, date style, address style, and whether short
    words (gender, ethnicity) are written in lower case."""

    upper_names: bool
    date_style: DateStyle
    place_style: PlaceStyle
    lower_words: bool

    @classmethod
    def random(cls, rng: random.Random) -> "Hand":
        return cls(
            upper_names=rng.random() < 0.3,
            date_style=random_date_style(rng),
            place_style=PlaceStyle.random(rng),
            lower_words=rng.random() < 0.15,
        )


@dataclass
class Person:
    """Someone an entry describes. ``year_only`` = the birth date is written as a year (parents)."""

    name: PersonName | str
    gender: int
    birth: dt.date
    ethnicity: str = "Kinh"
    nationality: str = "Việt Nam"
    residence: Triple | None = None
    hometown: Triple | None = None
    year_only: bool = False
    foreign_city: str | None = None  # residence abroad, for foreigners
    doc: tuple[int, dt.date, str, str] | None = field(default=None, repr=False)  # code, issued, number, issuer
    personal_id: str | None = field(default=None, repr=False)

    @property
    def surname(self) -> str | None:
        return self.name.surname if isinstance(self.name, PersonName) else None


def _tri(rng: random.Random, lo: int, hi: int, mode: float) -> int:
    return int(round(rng.triangular(lo, hi, mode)))


def _years_before(rng: random.Random, ref: dt.date, years: int) -> dt.date:
    """A day in the calendar year ``ref.year - years``, not after ``ref`` and not before 1900."""
    year = max(ref.year - years, _EARLIEST.year)
    start = dt.date(year, 1, 1)
    end = min(dt.date(year, 12, 31), ref)
    return random_date(rng, start, max(start, end))


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


class _Record:
    """The hidden truth of one entry, from which every field is written on demand."""

    def __init__(self, book: Book, rng: random.Random, era: int, hand: Hand | None = None) -> None:
        self.book, self.rng, self.era = book, rng, era
        self.hand = hand or Hand.random(rng)
        self.reg_date = random_date(rng, dt.date(era, 1, 1), min(dt.date(era, 12, 31), LAST_DATE))
        self.home = random_admin_units(rng)
        self.office_level = "ward"
        self.reg_type = 1
        self.people: dict[str, Person] = {}
        self._groups: dict[str, bool] = {}
        self.has_father = True  # only births can lack a father
        self.abroad: str | None = None  # country of a registration abroad (births, import-only columns)
        {"khai_sinh": self._plan_births, "khai_tu": self._plan_deaths, "ket_hon": self._plan_marriage,
         "nhan_cha_me_con": self._plan_recognition}[book.key]()
        # Entries are numbered from 1 each year (or volume); pages hold a few rows each.
        per_year = {"khai_sinh": (60, 400), "khai_tu": (20, 150), "ket_hon": (20, 150),
                    "nhan_cha_me_con": (2, 30)}[book.key]
        share = self.reg_date.timetuple().tm_yday / 366
        self.number = max(1, round(share * rng.randint(*per_year)) + rng.randint(-2, 2))
        self.volume = 1 if rng.random() < 0.8 else rng.randint(2, 3)
        rows = rng.choice((2, 3, 4, 5))
        self.page = (self.number - 1) // rows + 1 + rng.choice((0, 0, 1, 2))

    # --- planning per book -----------------------------------------------------------------------------
    def _plan_births(self) -> None:
        rng = self.rng
        self.reg_type = rng.choices((1, 4, 2, 3, 5, 6), (80, 10, 8, 1, 0.5, 0.5))[0]
        days = {1: (0, 60), 4: (61, 365 * 15), 2: (365, 365 * 50), 3: (30, 365 * 5), 5: (0, 365 * 20),
                6: (0, 365 * 20)}[self.reg_type]
        # Late and re-registered births reach back decades, but not so far that a parent 45 years older
        # would be born before 1900.
        floor = min(self.reg_date, dt.date(_EARLIEST.year + 46, 1, 1))
        self.birth = max(self.reg_date - dt.timedelta(days=rng.randint(*days)), floor)
        self.child_gender = MALE if rng.random() < 0.51 else FEMALE
        self.has_father = rng.random() < 0.93
        self.mother_age = _tri(rng, 18, 45, 25)
        self.father_age = min(45, max(18, self.mother_age + _tri(rng, -2, 12, 3)))
        self.declarant = random_birth_declarant(rng)
        if not self.has_father and self.declarant in ("cha", "ông nội", "bà nội", "bác", "chú", "cô"):
            self.declarant = "mẹ"

    def _plan_deaths(self) -> None:
        rng = self.rng
        self.reg_type = rng.choices((1, 4, 2), (85, 8, 7))[0]
        days = {1: (0, 15), 4: (16, 3650), 2: (365, 365 * 40)}[self.reg_type]
        self.death = max(self.reg_date - dt.timedelta(days=rng.randint(*days)), _EARLIEST)
        band = rng.choices(("old", "adult", "young"), (75, 20, 5))[0]
        age = {"old": _tri(rng, 60, 102, 80), "adult": _tri(rng, 18, 60, 50), "young": rng.randint(0, 17)}[band]
        self.death_age = min(age, self.death.year - _EARLIEST.year)
        self.deceased_gender = rng.choice((MALE, FEMALE))
        if self.death_age >= 45:
            options = {"con trai": 30, "con gái": 12, "con": 15, "cháu": 5, "cháu nội": 5, "con dâu": 6,
                       "con rể": 2, "vợ" if self.deceased_gender == MALE else "chồng": 20, "em": 3, "anh": 2}
        elif self.death_age >= 18:
            options = {"vợ" if self.deceased_gender == MALE else "chồng": 40, "cha": 15, "mẹ": 15, "anh": 10,
                       "chị": 8, "em": 8}
            if self.death_age >= 38:
                options["con trai"] = 15
        else:
            options = {"cha": 55, "mẹ": 35, "ông nội": 5, "bà nội": 5}
        self.declarant = rng.choices(list(options), list(options.values()))[0]
        self.died_in_hospital = rng.random() < (0.15 if self.era < 1995 else 0.35)
        self.death_hospital = self._hospital()

    def _plan_marriage(self) -> None:
        rng = self.rng
        self.reg_type = rng.choices((1, 2), (95, 5))[0]
        self.husband_age = _tri(rng, 20, 45, 25)
        self.wife_age = min(self.husband_age + 3, _tri(rng, 18, 40, 22))
        self.foreign_husband = self.era >= 1995 and rng.random() < 0.03
        if self.foreign_husband:
            self.office_level = "district"

    def _plan_recognition(self) -> None:
        rng = self.rng
        self.recognition = rng.choices(RECOGNITION_TYPES, (18, 7, 75))[0]
        if self.recognition == "Nhận con":
            self.child_age = _tri(rng, 0, 15, 1)
            self.parent_gender = MALE if rng.random() < 0.88 else FEMALE
        else:
            self.child_age = _tri(rng, 18, 45, 22)
            self.parent_gender = MALE if self.recognition == "Nhận cha" else FEMALE
        self.parent_age = _tri(rng, 18, 45, 26)  # at the child's birth
        self.reg_type = rng.choices((1, 2), (95, 5))[0]

    # --- people -----------------------------------------------------------------------------------------
    def person(self, role: str) -> Person:
        if role not in self.people:
            self.people[role] = self._make_person(role)
        return self.people[role]

    def _new(self, gender: int, birth: dt.date, *, surname: str | None = None, residence: Triple | None = None,
             year_only: bool = False, ethnicity: str | None = None, nationality: str = "Việt Nam") -> Person:
        name = random_name(self.rng, gender, birth.year, surname=surname)
        return Person(name, gender, birth, ethnicity or random_ethnicity(self.rng), nationality,
                      residence or self.home, self._hometown(), year_only)

    def _hometown(self) -> Triple:
        # Most people in a commune's books were born in that province.
        rng = self.rng
        if rng.random() < 0.6:
            return self.home
        return random_admin_units(rng, province_code=self.home[0].code) if rng.random() < 0.6 \
            else random_admin_units(rng)

    def _parent_year_only(self) -> bool:
        return self.rng.random() < (0.75 if self.era < 1995 else 0.55 if self.era < 2010 else 0.35)

    def _make_person(self, role: str) -> Person:
        rng = self.rng
        key = self.book.key
        if key == "khai_sinh":
            if role == "me":
                return self._new(FEMALE, _years_before(rng, self.birth, self.mother_age),
                                 year_only=self._parent_year_only())
            if role == "cha":
                mother = self.person("me")
                p = self._new(MALE, _years_before(rng, self.birth, self.father_age),
                              year_only=mother.year_only if rng.random() < 0.8 else not mother.year_only,
                              residence=mother.residence if rng.random() < 0.9 else None)
                return p
            if role == "nks":
                parent = self.person("cha") if self.has_father else self.person("me")
                mother = self.person("me")
                ethnicity = parent.ethnicity if rng.random() < 0.8 else mother.ethnicity
                child = self._new(self.child_gender, self.birth, surname=parent.surname, ethnicity=ethnicity)
                child.hometown = parent.hometown
                return child
            if role == "nyc":
                return self._birth_declarant()
        elif key == "khai_tu":
            if role == "nkt":
                return self._new(self.deceased_gender, _years_before(rng, self.death, self.death_age))
            if role == "nyc":
                return self._death_declarant()
        elif key == "ket_hon":
            if role == "vo":
                return self._new(FEMALE, _years_before(rng, self.reg_date, self.wife_age))
            if role == "chong":
                birth = _years_before(rng, self.reg_date, self.husband_age)
                if self.foreign_husband:
                    return self._foreigner(MALE, birth)
                r = rng.random()
                residence = self.home if r < 0.5 else random_admin_units(rng, province_code=self.home[0].code) \
                    if r < 0.8 else random_admin_units(rng)
                return self._new(MALE, birth, residence=residence)
        elif key == "nhan_cha_me_con":
            child_birth = _years_before(rng, self.reg_date, self.child_age)
            if role == "nc":
                gender = rng.choice((MALE, FEMALE))
                return self._new(gender, child_birth)
            if role == "cm":
                return self._new(self.parent_gender, _years_before(rng, self.person("nc").birth, self.parent_age))
            if role == "nyc":
                return self.person("cm") if self.recognition == "Nhận con" else self.person("nc")
        raise KeyError(f"book {key!r} has no person {role!r}")

    def _birth_declarant(self) -> Person:
        rng, rel = self.rng, self.declarant
        if rel == "cha":
            return self.person("cha")
        if rel == "mẹ":
            return self.person("me")
        mother = self.person("me")
        father = self.person("cha") if self.has_father else None
        gender = relationship_gender(rel) or rng.choice((MALE, FEMALE))
        paternal = rel in ("ông nội", "bà nội", "bác", "chú", "cô") and father is not None
        side = father if paternal else mother
        if rel in ("ông nội", "ông ngoại", "bà nội", "bà ngoại"):
            birth = _years_before(rng, side.birth, _tri(rng, 18, 40, 26))
        elif rel in ("anh", "chị"):
            birth = _years_before(rng, self.birth, rng.randint(18, 25))
        elif rel == "người nuôi dưỡng":
            birth = _years_before(rng, self.birth, rng.randint(25, 60))
        else:  # uncles and aunts: about the parents' age
            birth = _years_before(rng, side.birth, rng.randint(-8, 8))
        # Men of the father's line carry his surname; ông ngoại and cậu carry the mother's.
        surname = None
        if rel in ("ông nội", "bác", "chú", "cô") and father is not None and (rel != "bác" or gender == MALE):
            surname = father.surname
        elif rel in ("ông ngoại", "cậu", "dì"):
            surname = mother.surname
        elif rel in ("anh", "chị"):
            surname = (father or mother).surname
        return self._new(gender, birth, surname=surname)

    def _death_declarant(self) -> Person:
        rng, rel = self.rng, self.declarant
        dead = self.person("nkt")
        gender = relationship_gender(rel) or rng.choice((MALE, FEMALE))
        age = self.death_age
        surname = None
        if rel in ("con trai", "con gái", "con", "cháu nội"):
            offset = -_tri(rng, 20, 40, 28) if rel != "cháu nội" else -_tri(rng, 40, 65, 50)
            surname = dead.surname if dead.gender == MALE else None
        elif rel == "cháu":
            offset = -_tri(rng, 40, 65, 50)
        elif rel in ("con dâu", "con rể"):
            offset = -_tri(rng, 20, 40, 28)
        elif rel in ("vợ", "chồng"):
            offset = rng.randint(-8, 5) if rel == "vợ" else rng.randint(-5, 8)
        elif rel in ("cha", "mẹ", "ông nội", "bà nội"):
            offset = _tri(rng, 18, 40, 27) + (20 if rel.startswith(("ông", "bà")) else 0)
            surname = dead.surname if rel in ("cha", "ông nội") else None
        elif rel in ("anh", "chị"):
            offset = rng.randint(1, 10)
            surname = dead.surname
        else:  # em
            offset = -rng.randint(1, 10)
            surname = dead.surname
        # The declarant is an adult alive at registration.
        years_old_at_reg = max(18, min(95, age + offset + (self.reg_date.year - self.death.year)))
        return self._new(gender, _years_before(rng, self.reg_date, years_old_at_reg), surname=surname,
                         residence=self.home if rng.random() < 0.85 else None)

    def _foreigner(self, gender: int, birth: dt.date) -> Person:
        rng = self.rng
        country = random_nationality(rng, foreign=True)
        if country in FOREIGN_NAMES:
            first, second = FOREIGN_NAMES[country]
            name = f"{rng.choice(first)} {rng.choice(second)}"
            name = name.upper() if rng.random() < 0.6 else name
        else:  # Chinese and Taiwanese names are written in their Sino-Vietnamese reading
            name = random_name(rng, gender, birth.year, old_spelling=False)
        city = rng.choice(FOREIGN_CITIES.get(country, ("",))) or None
        ethnicity = "Hoa" if country in ("Trung Quốc", "Đài Loan") else random_ethnicity(rng)
        return Person(name, gender, birth, ethnicity, country, None, None, False, city)

    # --- identity documents ------------------------------------------------------------------------------
    def document(self, p: Person) -> tuple[int, dt.date, str, str]:
        """(LoaiGiayToTuyThan code, issue date, number, issuing authority) of the ID ``p`` showed."""
        if p.doc is not None:
            return p.doc
        rng = self.rng
        ref = self.reg_date
        if p.nationality != "Việt Nam":
            issued = random_date(rng, max(p.birth, _add_years(ref, -9)), ref)
            p.doc = (2, issued, id_document_number(rng, 2, issue_year=issued.year),
                     f"Cơ quan có thẩm quyền {p.nationality}" if rng.random() < 0.5 else p.nationality)
            return p.doc
        province = (p.residence or self.home)[0]
        if _age(p.birth, ref) < 14:  # children show their birth certificate
            issued = min(ref, p.birth + dt.timedelta(days=rng.randint(0, 60)))
            number = entry_number(rng, rng.randint(1, 300), issued.year)
            p.doc = (8, issued, number, registration_office(rng, p.hometown or self.home, era=issued.year))
            return p.doc
        earliest = max(_add_years(p.birth, 14), dt.date(1976, 1, 1), _add_years(ref, -15))
        issued = random_date(rng, min(earliest, ref), ref)
        y = issued.year
        cccd_share = 0.9 if y >= 2021 else 0.35 if y >= 2016 else 0.0
        r = rng.random()
        if r < cccd_share:
            code = 4
        elif r < cccd_share + (1 - cccd_share) * 0.95:
            code = 1
        else:
            code = rng.choice((2, 5, 7))
        birth_province = (p.hometown or self.home)[0].code
        number = id_document_number(rng, code, province_code=birth_province if code == 4 else province.code,
                                    gender=p.gender, birth_year=max(p.birth.year, 1900), issue_year=y)
        p.doc = (code, issued, number, self._issuer(code, issued, province))
        return p.doc

    def _issuer(self, code: int, issued: dt.date, province: AdminUnit) -> str:
        rng = self.rng
        prov = f"tỉnh {province.bare}" if province.unit == "Tỉnh" else f"TP {province.bare}"
        if code == 1:
            forms = (f"Công an {prov}", f"CA {prov}", f"CA {province.bare}", f"Công an {province.bare}")
            return rng.choices(forms, (50, 20, 20, 10))[0]
        if code == 4:
            if issued >= dt.date(2024, 7, 1):
                return "Bộ Công an"
            if issued >= dt.date(2021, 1, 1):
                return rng.choice(("Cục Cảnh sát QLHC về TTXH", "Cục CS QLHC về TTXH",
                                   "Cục trưởng Cục CS QLHC về TTXH"))
            return rng.choice(("Cục Cảnh sát ĐKQL cư trú và DLQG về dân cư", "Cục CS ĐKQL CT và DLQG về DC"))
        if code == 2:
            return rng.choice(("Cục Quản lý xuất nhập cảnh", "Cục QLXNC", f"Phòng QLXNC Công an {prov}"))
        if code == 5:
            return rng.choice(("Bộ Quốc phòng", "BTL Quân khu 3", "Cục Cán bộ - TCCT"))
        if code == 7:
            return rng.choice(("Bộ Công an", f"Công an {prov}"))
        return rng.choice(("Cục Quản lý xuất nhập cảnh", f"Công an {prov}"))

    def personal_id(self, p: Person) -> str:
        if p.personal_id is None:
            doc = self.document(p) if _age(p.birth, self.reg_date) >= 14 else None
            if doc is not None and doc[0] == 4:
                p.personal_id = doc[2]  # the CCCD number is the personal ID number
            else:
                code = (p.hometown or self.home)[0].code
                p.personal_id = cccd_number(self.rng, code, p.gender, max(p.birth.year, 1900))
        return p.personal_id

    # --- places and offices ------------------------------------------------------------------------------
    def _hospital(self) -> str:
        rng = self.rng
        province, district, _ = self.home
        options = (
            f"Bệnh viện Đa khoa tỉnh {province.bare}" if province.unit == "Tỉnh" else
            f"Bệnh viện Đa khoa {province.bare}",
            f"Bệnh viện Đa khoa {write_unit(rng, district, 'lower')}",
            f"Trung tâm Y tế {write_unit(rng, district, 'lower')}",
            "Bệnh viện Bạch Mai", "Bệnh viện Việt Đức", "Bệnh viện K", "Bệnh viện Chợ Rẫy",
        )
        return rng.choices(options, (35, 25, 15, 10, 5, 7, 3))[0]

    def _place(self, units: Triple | None, *, locality: float = 0.3, levels=None) -> str:
        if units is None:
            return self.rng.choice(("Nước ngoài", "Không rõ"))
        return random_structured_place(self.rng, units=units, locality_prob=locality, levels=levels,
                            style=self.hand.place_style, era=self.era).text

    def _person_place(self, p: Person, *, locality: float) -> str:
        if p.residence is None:  # foreigner
            parts = [x for x in (p.foreign_city, p.nationality) if x]
            return ", ".join(parts)
        return self._place(p.residence, locality=locality)

    def office(self) -> str:
        rng = self.rng
        if self.office_level == "district" and self.era < 2016:
            province = self.home[0]  # marriages with foreigners were registered by the provincial justice dept.
            return f"Sở Tư pháp {'tỉnh ' if province.unit == 'Tỉnh' else ''}{province.bare}"
        return registration_office(rng, self.home, level=self.office_level, era=self.era)

    def officer(self, which: str) -> Person:
        key = f"_officer_{which}"
        if key not in self.people:
            birth = _years_before(self.rng, self.reg_date, _tri(self.rng, 25, 60, 40))
            self.people[key] = self._new(self.rng.choice((MALE, FEMALE)) if which == "clerk" else
                                         (MALE if self.rng.random() < 0.85 else FEMALE), birth)
        return self.people[key]

    # --- writing -----------------------------------------------------------------------------------------
    def date(self, d: dt.date | ParsedDate) -> str:
        return write_date(self.rng, d, self.hand.date_style if isinstance(d, dt.date) else None)

    def date_after_ngay(self, d: dt.date) -> str:
        """A date to follow the word "ngày" in a sentence ("... ngày 3/4/2010"): no second "ngày"."""
        text = write_date(self.rng, d, self.hand.date_style)
        return text[5:] if text[:5].lower() == "ngày " else text

    def name(self, p: Person) -> str:
        if isinstance(p.name, str):
            return p.name
        return write_name(self.rng, p.name, self.hand.upper_names)

    def word(self, text: str) -> str:
        return text.lower() if self.hand.lower_words else text

    def later_date(self) -> dt.date:
        """A date after registration for amendments and notes (never after :data:`LAST_DATE`)."""
        start = min(self.reg_date + dt.timedelta(days=30), LAST_DATE)
        end = max(start, min(_add_years(self.reg_date, 30), LAST_DATE))
        return random_date(self.rng, start, end)

    def note(self) -> str:
        rng = self.rng
        d = self.later_date()
        ds = self.date_after_ngay(d)
        dec = f"{rng.randint(1, 350)}/QĐ-UBND" if d.year >= 1980 else f"{rng.randint(1, 120)}/QĐ-UB"
        ref = f"theo QĐ số {dec} ngày {ds}"
        court = f"TAND {write_unit(rng, self.home[1], 'lower')}"
        key = self.book.key
        notes: list[Callable[[], str]] = [
            lambda: f"Cải chính họ tên {ref}",
            lambda: f"Đã cấp bản sao ngày {ds}",
            lambda: f"Xác định lại dân tộc {ref}",
            lambda: f"Cải chính quê quán {ref}",
        ]
        if self.reg_type == 2:
            notes += [lambda: "Đăng ký lại", lambda: "Đăng ký lại theo Nghị định 158/2005/NĐ-CP"]
        if self.reg_type == 4:
            notes += [lambda: "Đăng ký quá hạn", lambda: "Khai sinh quá hạn"]
        if key == "khai_sinh":
            child = self.person("nks")
            notes += [
                lambda: f"Cải chính ngày sinh từ {write_date(rng, child.birth)} thành "
                        f"{write_date(rng, child.birth + dt.timedelta(days=rng.choice((-30, -9, -1, 1, 9, 30))))}",
                lambda: f"Thay đổi tên {ref}",
                lambda: f"Đã chết ngày {ds}",
                lambda: f"Bổ sung ngày tháng năm sinh của mẹ {ref}",
            ]
            if not self.has_father:
                notes.append(lambda: f"Đã được nhận cha {ref}")
        elif key == "khai_tu":
            notes += [lambda: f"Cải chính nơi chết {ref}", lambda: "Đăng ký khai tử quá hạn"]
        elif key == "ket_hon":
            notes += [
                lambda: f"Đã ly hôn theo Bản án số {rng.randint(1, 200)}/{d.year}/HNGĐ-ST ngày {ds} của {court}",
                lambda: f"Đã ly hôn theo QĐ số {rng.randint(1, 300)}/{d.year}/QĐST-HNGĐ ngày {ds} của {court}",
                lambda: "Hủy việc kết hôn trái pháp luật",
            ]
        else:
            notes += [lambda: f"Đã ghi chú vào Sổ đăng ký khai sinh ngày {ds}"]
        return rng.choice(notes)()

    # --- one field ---------------------------------------------------------------------------------------
    def render(self, f: Field) -> str:
        text = self._common(f) if not f.role else self._gbt(f) if f.role == "gbt" else self._person_field(f)
        return nfc(text)

    def _common(self, f: Field) -> str:
        rng, key = self.rng, f.key
        year = self.reg_date.year
        if key == "so":
            return entry_number(rng, self.number, year)
        if key == "quyenSo":
            return volume_number(rng, self.volume, year)
        if key == "trangSo":
            return page_number(rng, self.page)
        if key == "ngayDangKy":
            return self.date(self.reg_date)
        if key == "loaiDangKy":
            return write_registration_type(rng, self.reg_type)
        if key == "noiDangKy":
            return self.office()
        if key == "nguoiKy":
            return self.name(self.officer("signer"))
        if key == "chucVuNguoiKy":
            return random_officer_title(rng, self.era)
        if key == "nguoiThucHien":
            return self.name(self.officer("clerk"))
        if key == "ghiChu":
            return self.note()
        if key == "quyetDinhSo":
            return decision_number(rng, rng.randint(1, 300), year)
        if key == "loaiXacNhan":
            return write_recognition_type(rng, self.recognition)
        if key == "soDangKyNuocNgoai":
            return rng.choice((f"{rng.randint(1, 9999)}", f"{self.birth.year}-{rng.randint(1, 99999):05d}"))
        if key == "ngayDangKyNuocNgoai":
            return self.date(random_date(rng, self.birth, max(self.birth, self.reg_date - dt.timedelta(days=1))))
        if key in ("cqNuocNgoaiDaDangKy", "qgNuocNgoaiDaDangKy"):
            country = self.abroad = self.abroad or random_nationality(rng, foreign=True)
            if key == "qgNuocNgoaiDaDangKy":
                return write_nationality(rng, country)
            city = rng.choice(FOREIGN_CITIES.get(country, ("",)))
            return f"Cơ quan đăng ký hộ tịch {city}, {country}" if city else f"Cơ quan có thẩm quyền {country}"
        return self._by_kind(f)

    def _gbt(self, f: Field) -> str:
        rng, attr = self.rng, f.attribute
        if attr == "Loai":
            return random_death_notice_type(rng)
        if attr == "So":
            n = rng.randint(1, 500)
            return rng.choices((str(n), f"{n}/GBT", f"Số {n}", f"{n}/{self.death.year}"), (50, 20, 15, 15))[0]
        if attr == "Ngay":
            latest = max(self.death, min(self.reg_date, self.death + dt.timedelta(days=5)))
            return self.date(random_date(rng, self.death, latest))
        if attr == "CoQuanCap":
            if self.died_in_hospital:
                return self.death_hospital
            ward = write_unit(rng, self.home[2], "lower")
            return rng.choices((f"UBND {ward}", f"Công an {ward}", f"Trạm y tế {ward}"), (50, 30, 20))[0]
        return self._by_kind(f)

    def _person_field(self, f: Field) -> str:
        rng, attr = self.rng, f.attribute
        p = self.person(f.role)
        if attr == "HoTen":
            return self.name(p)
        if attr == "GioiTinh":
            return self.word(write_gender(rng, p.gender, era=self.era))
        if attr == "NgaySinh":
            return self.date(ParsedDate(p.birth.year) if p.year_only else p.birth)
        if attr == "NgaySinhBangChu":
            case = Case.UPPER if self.hand.upper_names and rng.random() < 0.3 else None
            return date_in_words(p.birth, rng, case=case)
        if attr == "NoiSinh":
            if rng.random() < 0.75:
                return birth_facility(rng, self.home, era=p.birth.year)
            return self._place(self.home, locality=0.2)
        if attr == "NoiSinhDVHC":
            return self._place(self.home, locality=0.0, levels=("w", "d", "p"))
        if attr == "QueQuan":
            if p.hometown is None:
                return p.nationality
            levels = rng.choices((("w", "d", "p"), ("d", "p"), ("w", "d"), ("p",)), (50, 30, 10, 10))[0]
            return self._place(p.hometown, locality=0.1, levels=levels)
        if attr == "DanToc":
            return self.word(write_ethnicity(rng, p.ethnicity))
        if attr in ("QuocTich", "QuocTichStr"):
            return write_nationality(rng, p.nationality)
        if attr in ("QuocTichKhac", "QuocTichKhacStr"):
            return write_nationality(rng, random_nationality(rng, foreign=True))
        if attr in ("SoDinhDanh", "SoDinhDanhCaNhan"):
            return self.personal_id(p)
        if attr == "LoaiKhaiSinh":
            if not self.has_father and rng.random() < 0.7:
                return "Chưa xác định được cha"
            case = random_birth_case(rng)
            return "Thông thường" if self.has_father and "cha" in case else case
        if attr == "LoaiCuTru":
            return random_residence_type(rng)
        if attr == "NoiCuTru":
            return self._person_place(p, locality=0.45)
        if attr == "LoaiGiayToTuyThan":
            return write_id_document_type(rng, self.document(p)[0])
        if attr == "SoGiayToTuyThan":
            return self.document(p)[2]
        if attr == "NgayCapGiayToTuyThan":
            return self.date(self.document(p)[1])
        if attr == "NoiCapGiayToTuyThan":
            return self.document(p)[3]
        if attr == "GiayToKhac":
            ward = write_unit(rng, (p.residence or self.home)[2], "lower")
            return rng.choice((f"Giấy xác nhận của Công an {ward}", "Giấy xác nhận cư trú",
                               f"Giấy xác nhận của UBND {ward}", "Sổ hộ khẩu"))
        if attr in ("QuanHe", "QHNguoiDuocNhan"):
            return write_relationship(rng, self._relationship())
        if attr == "NgayChet":
            return self.date(self.death)
        if attr == "GioPhutChet":
            return time_of_day(rng)
        if attr == "NoiChet":
            if self.died_in_hospital:
                return self.death_hospital
            if rng.random() < 0.35:
                return rng.choice(("Tại nhà", "tại nhà", "Tại gia đình", "Nhà riêng"))
            return self._person_place(p, locality=0.5)
        if attr == "NguyenNhanChet":
            return random_cause_of_death(rng, year=self.death.year, age=self.death_age)
        if attr in ("MatTich", "HanCheNangLucHanhVi"):
            return write_legal_status(rng, rng.choices((1, 2), (80, 20))[0])
        if "NgayGhiChu" in attr:
            return self.date(self.later_date())
        if "CanCu" in attr:
            d = self.later_date()
            court = f"TAND {write_unit(rng, self.home[1], 'lower')}"
            number = f"{rng.randint(1, 99):02d}/{d.year}/QĐST-DS"
            return f"Quyết định số {number} ngày {self.date_after_ngay(d)} của {court}"
        return self._by_kind(f)

    def _relationship(self) -> str:
        key = self.book.key
        if key in ("khai_sinh", "khai_tu"):
            return self.declarant
        if key == "nhan_cha_me_con":
            if self.recognition == "Nhận con":
                return "cha" if self.parent_gender == MALE else "mẹ"
            return "con"
        return "chồng"  # a marriage book has no declarant relationship; this cannot be reached via the schema

    def _by_kind(self, f: Field) -> str:
        """Fallback by value kind, for fields added to the schema without a dedicated writer."""
        rng, kind = self.rng, f.kind
        if kind is ValueKind.PERSON_NAME:
            return write_name(rng, random_name(rng, birth_year=self.era - 30), self.hand.upper_names)
        if kind is ValueKind.DATE:
            return self.date(self.reg_date)
        if kind is ValueKind.DATE_IN_WORDS:
            return date_in_words(self.reg_date, rng)
        if kind is ValueKind.PLACE:
            return self._place(self.home)
        if kind is ValueKind.ETHNICITY:
            return write_ethnicity(rng, random_ethnicity(rng))
        if kind is ValueKind.NATIONALITY:
            return write_nationality(rng, random_nationality(rng))
        if kind is ValueKind.DOCUMENT_NUMBER:
            return decision_number(rng, rng.randint(1, 300), self.reg_date.year)
        if kind is ValueKind.ENTRY_NUMBER:
            return entry_number(rng, self.number, self.reg_date.year)
        if kind is ValueKind.REGISTRATION_OFFICE:
            return self.office()
        if kind is ValueKind.FREE_TEXT:
            return self.note()
        raise NotImplementedError(f"no writer for field {f.key!r} of kind {kind.value!r}")

    # --- which fields a book of this era has filled in -----------------------------------------------------
    def _group(self, name: str, p: float) -> bool:
        if name not in self._groups:
            self._groups[name] = self.rng.random() < p
        return self._groups[name]

    def present(self, f: Field) -> bool:
        rng, era, attr, role = self.rng, self.era, f.attribute, f.role
        if f.import_only:
            return False
        if role == "cha" and not self.has_father:
            return False
        if attr in ("LoaiGiayToTuyThan", "SoGiayToTuyThan", "NgayCapGiayToTuyThan", "NoiCapGiayToTuyThan"):
            p_ids = 0.8 if era >= 2006 else 0.5 if era >= 1990 else 0.15
            if role in ("me", "cha"):
                p_ids = 0.6 if era >= 2006 else 0.0
            if role == "nc" and _age(self.person("nc").birth, self.reg_date) < 14:
                p_ids *= 0.3
            if not self._group(f"ids:{role}", p_ids):
                return False
            return attr in ("LoaiGiayToTuyThan", "SoGiayToTuyThan") or rng.random() < 0.85
        if role == "gbt":
            if not self._group("gbt", 0.7 if era >= 2000 else 0.2):
                return False
            return rng.random() < (0.6 if attr == "So" else 0.95)
        table = {
            "loaiDangKy": 0.1 if self.reg_type == 1 else 0.5,
            "ghiChu": 0.12 if self.reg_type == 1 else 0.6,
            "quyetDinhSo": 0.3,
            "SoDinhDanh": 0.85 if era >= 2016 else 0.0,
            "SoDinhDanhCaNhan": 0.5 if era >= 2016 else 0.0,
            "NgaySinhBangChu": 0.85 if era >= 1987 else 0.3,
            "NoiSinhDVHC": 0.6 if era >= 2016 else 0.05,
            "QuocTich": 0.9 if era >= 1990 else 0.5,
            "QuocTichKhac": 0.01,
            "LoaiKhaiSinh": 0.1,
            "LoaiCuTru": 0.25,
            "NoiCuTru": 0.95,
            "QueQuan": 0.85,
            "GioPhutChet": 0.6,
            "NguyenNhanChet": 0.9,
        }
        p = table.get(f.key, table.get(attr, 1.0))
        return p >= 1.0 or rng.random() < p


def generate_field(book_key: str, field_key: str, rng: random.Random, era: int | None = None) -> str:
    """Handwritten text for one field of one book, as an officer of year ``era`` would write it
    (a random realistic era when ``None``). Raises ``KeyError`` for unknown books or fields."""
    book = get_book(book_key)
    f = book.field(field_key)
    era = random_era(rng) if era is None else _check_era(era)
    return _Record(book, rng, era).render(f)


def generate_record(book_key: str, rng: random.Random, era: int | None = None, *, complete: bool = False,
                    include_import_only: bool = False) -> dict[str, str]:
    """One consistent register entry: field key → handwritten text, in book order.

    Fields the era's books did not have or that are usually left blank are absent unless ``complete`` (then
    every column of the printed book is filled); ``include_import_only`` adds the import-spreadsheet
    columns that printed books lack.
    """
    book = get_book(book_key)
    era = random_era(rng) if era is None else _check_era(era)
    record = _Record(book, rng, era)
    out: dict[str, str] = {}
    for f in book.fields:
        if f.import_only and not include_import_only:
            continue
        if f.role == "cha" and not record.has_father:
            continue  # a birth without a recognised father has nothing in the father's columns
        if f.import_only or complete or record.present(f):
            out[f.key] = record.render(f)
    return out
