"""The ledger schema matches the reference: four books, Ministry import keys, value kinds, code tables."""
from __future__ import annotations

import re
import zipfile

import pytest

from data.schema import (
    BOOKS, CODE_TABLES, COMMON_FIELDS, GIOI_TINH, LOAI_DANG_KY, LOAI_GIAY_TO_TUY_THAN, ROLES, Book,
    UnknownBookError, UnknownFieldError, ValueKind, get_book, get_field,
)
from data.settings import shared_dir

COMMON = ["so", "quyenSo", "trangSo", "ngayDangKy", "loaiDangKy", "noiDangKy", "nguoiKy", "chucVuNguoiKy",
          "nguoiThucHien", "ghiChu"]
_ID = ["LoaiGiayToTuyThan", "SoGiayToTuyThan", "NgayCapGiayToTuyThan", "NoiCapGiayToTuyThan"]
_PARENT = ["HoTen", "NgaySinh", "DanToc", "QuocTich", "LoaiCuTru", "NoiCuTru", "LoaiGiayToTuyThan",
           "SoGiayToTuyThan", "SoDinhDanhCaNhan"]
_SPOUSE = ["HoTen", "NgaySinh", "DanToc", "QuocTich", "LoaiCuTru", "NoiCuTru", *_ID]
_RECOGNISED = ["HoTen", "NgaySinh", "DanToc", "QuocTich", "QueQuan", "LoaiCuTru", "NoiCuTru", *_ID]

# Keys as listed in shared/reference/hotich-fields.md.
REFERENCE_KEYS = {
    "khai_sinh": [
        "nksHoTen", "nksGioiTinh", "nksNgaySinh", "nksNgaySinhBangChu", "nksNoiSinh", "nksNoiSinhDVHC",
        "nksQueQuan", "nksDanToc", "nksQuocTich", "nksQuocTichKhac", "nksSoDinhDanh", "nksLoaiKhaiSinh",
        *[f"me{a}" for a in _PARENT], *[f"cha{a}" for a in _PARENT],
        "nycHoTen", "nycQuanHe", "nycLoaiGiayToTuyThan", "nycSoGiayToTuyThan", "nycNgayCapGiayToTuyThan",
        "nycNoiCapGiayToTuyThan",
    ],
    "khai_tu": [
        "nktHoTen", "nktGioiTinh", "nktNgaySinh", "nktDanToc", "nktQuocTich", "nktLoaiCuTru", "nktNoiCuTru",
        *[f"nkt{a}" for a in _ID], "nktNgayChet", "nktGioPhutChet", "nktNoiChet", "nktNguyenNhanChet",
        "gbtLoai", "gbtSo", "gbtNgay", "gbtCoQuanCap", "nycHoTen", "nycQuanHe", *[f"nyc{a}" for a in _ID],
    ],
    "ket_hon": [*[f"chong{a}" for a in _SPOUSE], *[f"vo{a}" for a in _SPOUSE]],
    "nhan_cha_me_con": [
        "quyetDinhSo", "loaiXacNhan", *[f"cm{a}" for a in _RECOGNISED], *[f"nc{a}" for a in _RECOGNISED],
        "nycHoTen", "nycQHNguoiDuocNhan", *[f"nyc{a}" for a in _ID],
    ],
}


def test_four_books():
    assert list(BOOKS) == ["khai_sinh", "khai_tu", "ket_hon", "nhan_cha_me_con"]
    assert all(isinstance(b, Book) and b.title_vi.startswith("Sổ đăng ký") for b in BOOKS.values())
    assert {b.prefix for b in BOOKS.values()} == {"nks", "nkt", "chong", "cm"}


@pytest.mark.parametrize("book_key", list(REFERENCE_KEYS))
def test_reference_keys_present(book_key):
    book = get_book(book_key)
    missing = [k for k in COMMON + REFERENCE_KEYS[book_key] if k not in book]
    assert not missing, f"{book_key} lacks {missing}"
    # Register-entry fields come first and are the same objects in every book.
    assert book.fields[: len(COMMON_FIELDS)] == COMMON_FIELDS


def test_every_field_is_well_formed():
    camel = re.compile(r"^[a-z][A-Za-z]*$")
    for book in BOOKS.values():
        assert len(set(book.keys)) == len(book.fields)
        for f in book.fields:
            assert camel.match(f.key), f.key
            assert isinstance(f.kind, ValueKind)
            assert f.label and f.role in ROLES
            assert f.key == f.role + f.attribute if f.role else f.key == f.attribute
            assert f.key.startswith(f.role)
            if f.import_only:
                assert f.optional


def test_value_kinds_by_meaning():
    ks = get_book("khai_sinh")
    assert ks.field("nksHoTen").kind is ValueKind.PERSON_NAME
    assert ks.field("nguoiKy").kind is ValueKind.PERSON_NAME
    assert ks.field("nksNgaySinh").kind is ValueKind.DATE
    assert ks.field("meNgaySinh").kind is ValueKind.DATE
    assert ks.field("nksNgaySinhBangChu").kind is ValueKind.DATE_IN_WORDS
    assert ks.field("nksNoiSinh").kind is ValueKind.PLACE
    assert ks.field("nksDanToc").kind is ValueKind.ETHNICITY
    assert ks.field("nksQuocTich").kind is ValueKind.NATIONALITY
    assert ks.field("nycSoGiayToTuyThan").kind is ValueKind.ID_NUMBER
    assert ks.field("so").kind is ValueKind.ENTRY_NUMBER
    assert ks.field("ghiChu").kind is ValueKind.FREE_TEXT
    assert ks.field("nksGioiTinh").kind is ValueKind.GENDER
    assert ks.field("chucVuNguoiKy").kind is ValueKind.OFFICER_TITLE
    assert ks.field("nycQuanHe").kind is ValueKind.RELATIONSHIP
    assert get_field("khai_tu", "nktGioPhutChet").kind is ValueKind.TIME_OF_DAY
    assert get_field("khai_tu", "nktNguyenNhanChet").kind is ValueKind.CAUSE_OF_DEATH
    assert get_field("nhan_cha_me_con", "loaiXacNhan").kind is ValueKind.RECOGNITION_TYPE


def test_fields_of_role_and_genders():
    ks = get_book("khai_sinh")
    assert ks.roles == ("nks", "me", "cha", "nyc")
    assert [f.key for f in ks.fields_of("nyc")][:2] == ["nycHoTen", "nycQuanHe"]
    assert [f.key for f in ks.fields_of("")] == COMMON + ["soDangKyNuocNgoai", "ngayDangKyNuocNgoai",
                                                          "cqNuocNgoaiDaDangKy", "qgNuocNgoaiDaDangKy"]
    assert ROLES["me"].gender == 2 and ROLES["cha"].gender == 1 and ROLES["vo"].gender == 2
    assert all(not f.import_only for f in get_book("khai_tu").fields)


def test_code_tables():
    assert LOAI_DANG_KY[1] == "Đăng kí đúng hạn" and set(LOAI_DANG_KY) == set(range(1, 7))
    assert dict(GIOI_TINH) == {1: "Nam", 2: "Nữ", 3: "Không xác định"}
    assert set(LOAI_GIAY_TO_TUY_THAN) == set(range(1, 9))
    assert LOAI_GIAY_TO_TUY_THAN[1] == "Giấy CMND" and LOAI_GIAY_TO_TUY_THAN[4] == "Thẻ căn cước công dân"
    assert set(CODE_TABLES) >= {"loaiDangKy", "GioiTinh", "LoaiGiayToTuyThan"}
    with pytest.raises(TypeError):
        GIOI_TINH[4] = "x"  # read-only


def test_clear_errors():
    with pytest.raises(KeyError) as exc:
        get_book("khai_sinhh")
    assert isinstance(exc.value, UnknownBookError)
    assert "khai_sinh, khai_tu, ket_hon, nhan_cha_me_con" in str(exc.value)
    with pytest.raises(UnknownFieldError) as exc:
        get_book("ket_hon").field("nksHoTen")
    assert "chongHoTen" in str(exc.value) and "'nksHoTen'" in str(exc.value)
    with pytest.raises(KeyError):
        get_book("ket_hon").fields_of("xx")


@pytest.mark.shared
def test_births_match_import_header():
    """The khai_sinh fields are the births import spreadsheet's columns (but the row counter), in order."""
    path = shared_dir() / "reference" / "moj-import-khaisinh-header.xlsx"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    cells = re.findall(r'<c r="[A-Z]+1"[^>]*>.*?<t[^>]*>(.*?)</t>', sheet, re.S)
    header = [c.split("\n")[0].strip() for c in cells]
    assert header[0] == "STT" and len(header) == 70
    assert list(get_book("khai_sinh").keys) == header[1:]
