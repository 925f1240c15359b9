"""Field text generators: charset, determinism, realistic frequencies, date round trips, record consistency."""
from __future__ import annotations

import datetime as dt
import random

import pytest

from data.charset import in_charset
from data.schema import BOOKS, get_book
from data.text.dates import (
    DateStyle, ParsedDate, WordVariants, YEAR_STYLES, date_in_words, format_date, number_to_words, parse_date,
    random_date, resolve_two_digit_year, words_to_number, write_date,
)
from data.text.fields import generate_field, generate_record, random_era
from data.text.names import FEMALE, MALE, guess_gender, random_name, write_name
from data.text.numbers import cccd_number, century_gender_digit, cmnd_number, id_document_number, time_of_day
from data.text.places import (
    HAI_DUONG_CODE, gazetteer, random_admin_units, random_place, random_structured_place, split_unit,
)
from data.text.vocab import (
    ETHNIC_GROUPS, ID_DOCUMENT_FORMS, random_ethnicity, random_nationality, write_ethnicity,
)

GENDER_WORDS = {"nam": MALE, "trai": MALE, "nữ": FEMALE, "gái": FEMALE}
CMND_FORMS = {f.lower() for f in ID_DOCUMENT_FORMS[1]} | {"giấy cmnd"}
CCCD_FORMS = {f.lower() for f in ID_DOCUMENT_FORMS[4]}
RECORD_SEEDS = range(300)  # records per book in the consistency tests


# --- numbers in words ------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, words", [
    (1, "một"), (10, "mười"), (11, "mười một"), (14, "mười bốn"), (15, "mười lăm"), (21, "hai mươi mốt"),
    (24, "hai mươi tư"), (25, "hai mươi lăm"), (30, "ba mươi"), (105, "một trăm linh năm"),
    (1975, "một nghìn chín trăm bảy mươi lăm"), (1998, "một nghìn chín trăm chín mươi tám"),
    (2000, "hai nghìn"), (2008, "hai nghìn không trăm linh tám"), (2010, "hai nghìn không trăm mười"),
    (2021, "hai nghìn không trăm hai mươi mốt"),
])
def test_number_words(n, words):
    assert number_to_words(n) == words
    assert words_to_number(words) == n


def test_number_words_round_trip_with_variants():
    rng = random.Random(0)
    for n in range(0, 2100):
        assert words_to_number(number_to_words(n, WordVariants.random(rng))) == n
    assert number_to_words(2008, WordVariants(zero_tens="lẻ", thousand="ngàn")) == "hai ngàn không trăm lẻ tám"
    assert words_to_number("một chín chín tám") == 1998
    for bad in ("hai ba mươi", "mươi", "trăm", "abc"):
        with pytest.raises(ValueError):
            words_to_number(bad)


# --- dates -----------------------------------------------------------------------------------------------
def test_date_in_words_reference_example():
    assert date_in_words(dt.date(2008, 8, 27)) == "Ngày hai mươi bảy tháng tám năm hai nghìn không trăm linh tám"
    assert date_in_words(dt.date(1998, 4, 5)) == "Ngày năm tháng tư năm một nghìn chín trăm chín mươi tám"


def test_written_dates_parse_back():
    styles = list(DateStyle)
    for seed in range(3000):
        rng = random.Random(seed)
        d = random_date(rng, dt.date(1900, 1, 1), dt.date(2025, 6, 30))
        style = styles[seed % len(styles)]
        value = ParsedDate(d.year) if style in YEAR_STYLES else ParsedDate.from_date(d)
        text = write_date(rng, value, style)
        assert in_charset(text), text
        assert parse_date(text) == value, (text, value)
        words = date_in_words(d, rng)
        assert parse_date(words) == ParsedDate.from_date(d), words


@pytest.mark.parametrize("text, expected", [
    ("12/3/1998", (1998, 3, 12)), ("12-03-1998", (1998, 3, 12)), ("12.3.98", (1998, 3, 12)),
    ("12.03.08", (2008, 3, 12)), ("ngày 12 tháng 3 năm 1998", (1998, 3, 12)),
    ("  Ngày   05 tháng 03  năm 1998. ", (1998, 3, 5)), ("mồng 5 tháng 3 năm 1998", (1998, 3, 5)),
    ("Mùng 1 tháng giêng năm 1990", (1990, 1, 1)), ("ngày12 tháng3 năm1998", (1998, 3, 12)),
    ("NGÀY HAI MƯƠI BẢY THÁNG TÁM NĂM HAI NGÀN KHÔNG TRĂM LẺ TÁM", (2008, 8, 27)),
    ("ngày năm tháng năm năm hai nghìn", (2000, 5, 5)), ("Ngày mười lăm tháng mười hai năm 1975", (1975, 12, 15)),
    ("tháng 3 năm 1998", (1998, 3, None)), ("3/1998", (1998, 3, None)), ("1965", (1965, None, None)),
    ("năm 1965", (1965, None, None)), ("Sinh năm 1965", (1965, None, None)),
    ("12 / 3 / 1998", (1998, 3, 12)),
])
def test_parse_date_variants(text, expected):
    assert parse_date(text) == ParsedDate(*expected)


def test_parse_date_errors_and_two_digit_years():
    for bad in ("", "abc", "31/2/1998", "12/13/1998", "ngày 12 tháng 3", "1/1/1", "tháng 13 năm 1998"):
        with pytest.raises(ValueError, match="cannot read date"):
            parse_date(bad)
    assert resolve_two_digit_year(25) == 2025 and resolve_two_digit_year(26) == 1926
    assert parse_date("5.6.45", max_year=1990) == ParsedDate(1945, 6, 5)
    assert ParsedDate(1998, 3, 12).spreadsheet() == "12.03.1998" and ParsedDate(1965).isoformat() == "1965"
    with pytest.raises(ValueError):
        format_date(ParsedDate(1965), DateStyle.SLASH)


# --- every field of every book ------------------------------------------------------------------------------
def test_every_field_in_charset_and_not_blank():
    for seed in range(40):
        for book in BOOKS.values():
            rng = random.Random(seed)
            era = None if seed % 2 else 1975 + seed
            for f in book.fields:
                text = generate_field(book.key, f.key, rng, era=era)
                assert text.strip() == text and text, (book.key, f.key, text)
                assert in_charset(text), (book.key, f.key, text)
                assert "ngày ngày" not in text.lower() and "  " not in text, (book.key, f.key, text)


def test_records_in_charset_and_deterministic():
    for book in BOOKS:
        for seed in range(150):
            record = generate_record(book, random.Random(seed))
            assert record == generate_record(book, random.Random(seed))
            assert all(in_charset(v) and v for v in record.values()), record
        full = generate_record(book, random.Random(1), complete=True, include_import_only=True)
        assert list(full) == list(get_book(book).keys)
        assert generate_record(book, random.Random(1)) != generate_record(book, random.Random(2))


def test_generate_field_errors():
    rng = random.Random(0)
    with pytest.raises(KeyError, match="valid books"):
        generate_field("sinh", "so", rng)
    with pytest.raises(KeyError, match="valid keys"):
        generate_field("ket_hon", "nksHoTen", rng)
    for bad in (1800, 2030, "2000"):
        with pytest.raises(ValueError, match="era"):
            generate_field("khai_sinh", "so", rng, era=bad)
    eras = [random_era(rng) for _ in range(500)]
    assert min(eras) >= 1975 and max(eras) <= 2024


# --- names -------------------------------------------------------------------------------------------------
def test_name_frequencies():
    rng = random.Random(7)
    names = [random_name(rng, birth_year=rng.randint(1930, 2020)) for _ in range(4000)]
    nguyen = sum(n.surname == "Nguyễn" for n in names) / len(names)
    assert 0.3 <= nguyen <= 0.5
    old_women = [random_name(rng, FEMALE, rng.randint(1920, 1970)) for _ in range(1500)]
    assert sum(n.middle[-1] == "Thị" or "Thị" in n.middle for n in old_women) / 1500 > 0.75
    old_men = [random_name(rng, MALE, rng.randint(1920, 1970)) for _ in range(1500)]
    assert sum("Văn" in n.middle for n in old_men) / 1500 > 0.6
    young_women = [random_name(rng, FEMALE, rng.randint(2005, 2020)) for _ in range(1500)]
    assert sum("Thị" in n.middle for n in young_women) / 1500 < 0.4
    assert any(len(n.parts) == 4 for n in names)
    assert all(guess_gender(n.text()) in (n.gender, None) for n in names)
    written = {write_name(rng, names[0]) for _ in range(50)}
    assert written == {names[0].text(), names[0].text(upper=True)}


# --- identity numbers ---------------------------------------------------------------------------------------
def test_id_numbers():
    rng = random.Random(3)
    for _ in range(500):
        cmnd = cmnd_number(rng, rng.choice((None, 30, 1, 96)))
        assert len(cmnd) == 9 and cmnd.isdigit()
        code, gender, year = rng.randint(1, 96), rng.choice((MALE, FEMALE)), rng.randint(1900, 2024)
        cccd = cccd_number(rng, code, gender, year)
        assert len(cccd) == 12 and cccd.isdigit()
        assert 1 <= int(cccd[:3]) <= 96 and int(cccd[3]) == century_gender_digit(gender, year)
        assert cccd[4:6] == f"{year % 100:02d}"
        assert len(id_document_number(rng, 1).replace(" ", "")) == 9
        assert in_charset(time_of_day(rng))
    assert century_gender_digit(MALE, 1985) == 0 and century_gender_digit(FEMALE, 2003) == 3


# --- places and vocabularies ---------------------------------------------------------------------------------
def test_places_from_gazetteer_with_hai_duong_weighted_up():
    gz = gazetteer()
    assert len(gz.provinces) == 63 and len(gz.wards) > 10000
    assert gazetteer() is gz  # loaded once
    assert split_unit("Thị xã Kinh Môn") == ("Thị xã", "Kinh Môn")
    rng = random.Random(11)
    known = {(p.code, d.code, w.code) for p, d, w in gz.wards}
    places = [random_structured_place(rng) for _ in range(2000)]
    for place in places:
        assert in_charset(place.text), place.text
        p, d, w = (place.province, place.district, place.ward)
        if w is not None:
            assert d is None or (p.code, d.code, w.code) in known
            assert w.bare in place.text
        if d is not None and not d.numbered:
            assert d.bare in place.text
    share = sum(p.is_hai_duong for p in places) / len(places)
    assert 0.25 <= share <= 0.5
    units = random_admin_units(rng, province_code=HAI_DUONG_CODE)
    assert units[0].name == "Tỉnh Hải Dương"
    texts = " | ".join(p.text for p in places)
    for form in ("TP", "H.", "thôn", "Huyện", "huyện", "xã"):
        assert form in texts, form
    text = random_place(random.Random(3))
    assert isinstance(text, str) and text == random_structured_place(random.Random(3)).text


def test_vocabularies():
    assert len(ETHNIC_GROUPS) == 54
    rng = random.Random(5)
    groups = [random_ethnicity(rng) for _ in range(3000)]
    assert 0.8 < groups.count("Kinh") / 3000 < 0.9
    assert all(in_charset(write_ethnicity(rng, g)) for g in ETHNIC_GROUPS)
    assert [random_nationality(rng) for _ in range(1000)].count("Việt Nam") > 900
    assert "Việt Nam" not in {random_nationality(rng, foreign=True) for _ in range(200)}


# --- consistency of whole records ----------------------------------------------------------------------------
def _year(text: str) -> int:
    return parse_date(text).year


def _gender(text: str) -> int:
    return GENDER_WORDS[text.lower()]


def _check_id(record: dict[str, str], role: str, gender: int | None, birth_year: int | None) -> None:
    kind = record.get(f"{role}LoaiGiayToTuyThan", "").lower()
    number = record.get(f"{role}SoGiayToTuyThan", "").replace(" ", "")
    if not kind or not number:
        return
    if kind in CMND_FORMS:
        assert len(number) == 9 and number.isdigit(), (kind, number)
    if kind in CCCD_FORMS:
        assert len(number) == 12 and number.isdigit(), (kind, number)
        if gender and birth_year:
            assert int(number[3]) == century_gender_digit(gender, birth_year)


def test_birth_records_consistent():
    for seed in RECORD_SEEDS:
        r = generate_record("khai_sinh", random.Random(seed))
        reg, born = parse_date(r["ngayDangKy"]), parse_date(r["nksNgaySinh"])
        assert born.to_date() <= reg.to_date()
        if "nksNgaySinhBangChu" in r:
            assert parse_date(r["nksNgaySinhBangChu"]) == born
        gender = _gender(r["nksGioiTinh"])
        assert guess_gender(r["nksHoTen"]) in (gender, None), r
        for parent in ("me", "cha"):
            if f"{parent}NgaySinh" in r:
                assert 18 <= born.year - _year(r[f"{parent}NgaySinh"]) <= 45, r
        if "chaHoTen" in r:  # the child carries the father's surname
            assert r["nksHoTen"].split()[0].lower() == r["chaHoTen"].split()[0].lower()
        relation = r["nycQuanHe"].lower()
        if relation in ("cha", "bố", "cha đẻ"):
            assert r["nycHoTen"] == r["chaHoTen"]
        elif relation in ("mẹ", "mẹ đẻ"):
            assert r["nycHoTen"] == r["meHoTen"]
        if "nksSoDinhDanh" in r:
            assert int(r["nksSoDinhDanh"][3]) == century_gender_digit(gender, born.year)
        _check_id(r, "nyc", None, None)
        _check_id(r, "me", FEMALE, _year(r["meNgaySinh"]))


def test_death_records_consistent():
    for seed in RECORD_SEEDS:
        r = generate_record("khai_tu", random.Random(seed))
        reg, died, born = (parse_date(r[k]).to_date() for k in ("ngayDangKy", "nktNgayChet", "nktNgaySinh"))
        assert born <= died <= reg
        gender = _gender(r["nktGioiTinh"])
        assert guess_gender(r["nktHoTen"]) in (gender, None)
        relation = r["nycQuanHe"].lower()
        if relation == "vợ":
            assert gender == MALE
        if relation == "chồng":
            assert gender == FEMALE
        if "gbtNgay" in r:
            assert died <= parse_date(r["gbtNgay"]).to_date() <= reg
        _check_id(r, "nkt", gender, born.year)


def test_marriage_and_recognition_records_consistent():
    for seed in RECORD_SEEDS:
        r = generate_record("ket_hon", random.Random(seed))
        reg = parse_date(r["ngayDangKy"]).year
        assert reg - _year(r["chongNgaySinh"]) >= 20 and reg - _year(r["voNgaySinh"]) >= 18
        assert guess_gender(r["voHoTen"]) in (FEMALE, None)
        _check_id(r, "vo", FEMALE, _year(r["voNgaySinh"]))
        r = generate_record("nhan_cha_me_con", random.Random(seed))
        assert 18 <= _year(r["ncNgaySinh"]) - _year(r["cmNgaySinh"]) <= 45
        kind = r["loaiXacNhan"].lower()
        if kind == "nhận con":
            assert r["nycHoTen"] == r["cmHoTen"]
            assert r["nycQHNguoiDuocNhan"].lower().startswith(("cha", "bố", "mẹ"))
        else:
            assert r["nycHoTen"] == r["ncHoTen"] and r["nycQHNguoiDuocNhan"].lower().startswith("con")
            expected = FEMALE if kind == "nhận mẹ" else MALE
            assert guess_gender(r["cmHoTen"]) in (expected, None)
