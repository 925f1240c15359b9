"""The ledger schema: the four civil-status register books, their record fields and the code tables.

Field keys are the Ministry of Justice import-spreadsheet keys (camelCase, Vietnamese without diacritics) from
``shared/reference/hotich-fields.md`` and the births import header ``moj-import-khaisinh-header.xlsx``, so that
records export without a mapping table. Person fields are built from a role prefix (``nks``, ``me``, ``cha``,
``nyc``, ``nkt``, ``gbt``, ``chong``, ``vo``, ``cm``, ``nc``) and an attribute (``HoTen``, ``NgaySinh``, ...):
``meHoTen`` is the mother's full name.

Every field carries a :class:`ValueKind`, which is what the text generators (:mod:`data.text.fields`) and the
normalization step dispatch on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Iterator, Mapping


class ValueKind(str, Enum):
    """What a field's handwritten value is, independent of which book or person it belongs to."""

    PERSON_NAME = "person_name"  # "Nguyễn Thị Hoa", "NGUYỄN VĂN AN"
    GENDER = "gender"  # Nam / Nữ (GioiTinh code table)
    DATE = "date"  # "12/3/1998", "ngày 12 tháng 3 năm 1998", a year alone for parents
    DATE_IN_WORDS = "date_in_words"  # "Ngày hai mươi bảy tháng tám năm hai nghìn không trăm linh tám"
    TIME_OF_DAY = "time_of_day"  # nktGioPhutChet: "14 giờ 30 phút", "14h30"
    PLACE = "place"  # an address from the gazetteer: "Xã Thạch Khôi, Gia Lộc, Hải Dương"
    ETHNICITY = "ethnicity"  # one of the 54 ethnic groups: "Kinh", "Tày"
    NATIONALITY = "nationality"  # nationality or country: "Việt Nam"
    ID_DOCUMENT_TYPE = "id_document_type"  # LoaiGiayToTuyThan: "CMND", "CCCD", "Hộ chiếu"
    ID_NUMBER = "id_number"  # number of an identity document (CMND 9 digits, CCCD 12 digits, passport)
    PERSONAL_ID = "personal_id"  # số định danh cá nhân: 12 digits, same layout as a CCCD number
    ISSUING_AUTHORITY = "issuing_authority"  # who issued a document: "Công an tỉnh Hải Dương"
    RESIDENCE_TYPE = "residence_type"  # LoaiCuTru: "Thường trú", "Tạm trú"
    RELATIONSHIP = "relationship"  # declarant's relationship: "cha", "mẹ", "ông nội"
    ENTRY_NUMBER = "entry_number"  # so: "125", "125/2008"
    VOLUME_NUMBER = "volume_number"  # quyenSo: "01/2008"
    PAGE_NUMBER = "page_number"  # trangSo: "37"
    DOCUMENT_NUMBER = "document_number"  # decision / notice numbers: "12/QĐ-UBND"
    REGISTRATION_TYPE = "registration_type"  # loaiDangKy code table: "Đúng hạn", "Đăng ký lại"
    BIRTH_CASE = "birth_case"  # nksLoaiKhaiSinh: ordinary birth, foundling, with a foreign element...
    REGISTRATION_OFFICE = "registration_office"  # noiDangKy: "UBND xã Thạch Khôi"
    OFFICER_TITLE = "officer_title"  # chucVuNguoiKy: "Chủ tịch", "Cán bộ Tư pháp - Hộ tịch"
    CAUSE_OF_DEATH = "cause_of_death"  # "Già yếu", "Tai nạn giao thông"
    DEATH_NOTICE_TYPE = "death_notice_type"  # gbtLoai: "Giấy báo tử"
    RECOGNITION_TYPE = "recognition_type"  # loaiXacNhan: "Nhận cha", "Nhận mẹ", "Nhận con"
    LEGAL_STATUS = "legal_status"  # missing-person / restricted-capacity declarations: "Tuyên bố"
    FREE_TEXT = "free_text"  # notes, amendments, other documents


# --- Code tables of the import template (sheet "Ghi chu"); labels exactly as the template writes them. -------
LOAI_DANG_KY: Mapping[int, str] = MappingProxyType({
    1: "Đăng kí đúng hạn",
    2: "Đăng kí lại",
    3: "Ghi vào sổ việc khai sinh đã đăng ký ở CQ có thẩm quyền nước ngoài",
    4: "Đăng kí quá hạn",
    5: "Cấp bản chính giấy khai sinh",
    6: "Không xác định",
})
GIOI_TINH: Mapping[int, str] = MappingProxyType({1: "Nam", 2: "Nữ", 3: "Không xác định"})
LOAI_GIAY_TO_TUY_THAN: Mapping[int, str] = MappingProxyType({
    1: "Giấy CMND",
    2: "Hộ chiếu",
    3: "Thẻ thường trú",
    4: "Thẻ căn cước công dân",
    5: "Giấy chứng minh quân đội nhân dân",
    6: "Giấy chứng minh sĩ quan quân đội",
    7: "Giấy chứng minh công an nhân dân",
    8: "Giấy tờ khác",
})
# nksMatTich and nksHanCheNangLucHanhVi share this table.
TUYEN_BO: Mapping[int, str] = MappingProxyType({1: "Tuyên bố", 2: "Hủy tuyên bố"})

CODE_TABLES: Mapping[str, Mapping[int, str]] = MappingProxyType({
    "loaiDangKy": LOAI_DANG_KY,
    "GioiTinh": GIOI_TINH,
    "LoaiGiayToTuyThan": LOAI_GIAY_TO_TUY_THAN,
    "TuyenBo": TUYEN_BO,
})


class UnknownBookError(KeyError):
    """A book key that is not one of :data:`BOOKS`; the message lists the valid keys."""

    def __str__(self) -> str:  # KeyError would print the repr of the message (quoted)
        return str(self.args[0]) if self.args else ""


class UnknownFieldError(KeyError):
    """A field key that the book does not have; the message lists the book's keys."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# --- Roles: who a field is about. -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Role:
    """A person (or document) a group of fields describes, e.g. ``me`` = the mother in a birth entry.

    ``gender`` is the role's fixed gender (1 Nam, 2 Nữ) where the role implies one, else ``None``.
    """

    prefix: str
    label: str
    gender: int | None = None


ROLES: Mapping[str, Role] = MappingProxyType({r.prefix: r for r in (
    Role("", "Đăng ký"),  # the register entry itself
    Role("nks", "Người được khai sinh"),
    Role("me", "Mẹ", 2),
    Role("cha", "Cha", 1),
    Role("nyc", "Người yêu cầu"),
    Role("nkt", "Người đã chết"),
    Role("gbt", "Giấy báo tử"),
    Role("chong", "Chồng", 1),
    Role("vo", "Vợ", 2),
    Role("cm", "Cha/mẹ"),
    Role("nc", "Con"),
)})


@dataclass(frozen=True)
class Field:
    """One column of a register book.

    ``key`` is the import key (``meHoTen``); ``role`` its person prefix (``me``; ``""`` for the register entry's
    own fields) and ``attribute`` the rest (``HoTen``; for entry fields the key itself). ``optional`` fields are
    often blank on paper (notes, other nationality, ID numbers in old books). ``import_only`` fields are columns
    of the import spreadsheet that the printed books have no column for (their content, when any, is written in
    the notes column).
    """

    key: str
    label: str
    kind: ValueKind
    role: str = ""
    attribute: str = ""
    optional: bool = False
    import_only: bool = False

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"field {self.key!r}: unknown role prefix {self.role!r}; valid: {sorted(ROLES)}")
        if not self.attribute:
            object.__setattr__(self, "attribute", self.key[len(self.role):] if self.role else self.key)

    @property
    def person(self) -> Role:
        return ROLES[self.role]


@dataclass(frozen=True)
class Book:
    """A register book type: its key, Vietnamese title, principal person prefix and ordered fields.

    ``prefix`` is the prefix of the record's principal person (for marriages the husband, ``chong``; the wife is
    ``vo``); ``roles`` lists every role prefix that occurs in the book.
    """

    key: str
    title_vi: str
    prefix: str
    fields: tuple[Field, ...]
    _index: Mapping[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {f.key: f for f in self.fields}
        if len(index) != len(self.fields):
            dupes = sorted({f.key for f in self.fields if sum(g.key == f.key for g in self.fields) > 1})
            raise ValueError(f"book {self.key!r} has duplicate field keys: {dupes}")
        object.__setattr__(self, "_index", MappingProxyType(index))

    def field(self, key: str) -> Field:
        """The field called ``key``; :class:`UnknownFieldError` (a ``KeyError``) naming valid keys otherwise."""
        try:
            return self._index[key]
        except KeyError:
            raise UnknownFieldError(
                f"book {self.key!r} has no field {key!r}; valid keys: {', '.join(self._index)}"
            ) from None

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._index)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.role for f in self.fields if f.role))

    @property
    def register_fields(self) -> tuple[Field, ...]:
        """The fields printed books have a column for (everything but :attr:`Field.import_only`)."""
        return tuple(f for f in self.fields if not f.import_only)

    def fields_of(self, role: str) -> tuple[Field, ...]:
        """The fields of one role prefix, in book order (``""`` gives the register-entry fields)."""
        if role not in ROLES:
            raise KeyError(f"unknown role prefix {role!r}; valid: {sorted(ROLES)}")
        return tuple(f for f in self.fields if f.role == role)


# --- Building blocks. -----------------------------------------------------------------------------------------
K = ValueKind

# attribute -> (label, kind). Labels follow the printed column headings.
_ATTRIBUTES: dict[str, tuple[str, ValueKind]] = {
    "HoTen": ("Họ, chữ đệm, tên", K.PERSON_NAME),
    "GioiTinh": ("Giới tính", K.GENDER),
    "NgaySinh": ("Ngày, tháng, năm sinh", K.DATE),
    "NgaySinhBangChu": ("Ngày, tháng, năm sinh bằng chữ", K.DATE_IN_WORDS),
    "NoiSinh": ("Nơi sinh", K.PLACE),
    "NoiSinhDVHC": ("Đơn vị hành chính nơi sinh", K.PLACE),
    "QueQuan": ("Quê quán", K.PLACE),
    "DanToc": ("Dân tộc", K.ETHNICITY),
    "QuocTich": ("Quốc tịch", K.NATIONALITY),
    "QuocTichStr": ("Quốc tịch (ghi bằng chữ)", K.NATIONALITY),
    "QuocTichKhac": ("Quốc tịch khác", K.NATIONALITY),
    "QuocTichKhacStr": ("Quốc tịch khác (ghi bằng chữ)", K.NATIONALITY),
    "SoDinhDanh": ("Số định danh cá nhân", K.PERSONAL_ID),
    "SoDinhDanhCaNhan": ("Số định danh cá nhân", K.PERSONAL_ID),
    "LoaiKhaiSinh": ("Loại khai sinh", K.BIRTH_CASE),
    "LoaiCuTru": ("Loại cư trú", K.RESIDENCE_TYPE),
    "NoiCuTru": ("Nơi cư trú", K.PLACE),
    "LoaiGiayToTuyThan": ("Loại giấy tờ tùy thân", K.ID_DOCUMENT_TYPE),
    "GiayToKhac": ("Giấy tờ khác", K.FREE_TEXT),
    "SoGiayToTuyThan": ("Số giấy tờ tùy thân", K.ID_NUMBER),
    "NgayCapGiayToTuyThan": ("Ngày cấp giấy tờ tùy thân", K.DATE),
    "NoiCapGiayToTuyThan": ("Nơi cấp giấy tờ tùy thân", K.ISSUING_AUTHORITY),
    "QuanHe": ("Quan hệ với người được đăng ký", K.RELATIONSHIP),
    "QHNguoiDuocNhan": ("Quan hệ với người được nhận", K.RELATIONSHIP),
    "NgayChet": ("Ngày, tháng, năm chết", K.DATE),
    "GioPhutChet": ("Giờ, phút chết", K.TIME_OF_DAY),
    "NoiChet": ("Nơi chết", K.PLACE),
    "NguyenNhanChet": ("Nguyên nhân chết", K.CAUSE_OF_DEATH),
    "Loai": ("Loại giấy", K.DEATH_NOTICE_TYPE),
    "So": ("Số", K.DOCUMENT_NUMBER),
    "Ngay": ("Ngày cấp", K.DATE),
    "CoQuanCap": ("Cơ quan cấp", K.ISSUING_AUTHORITY),
    "MatTich": ("Tuyên bố mất tích", K.LEGAL_STATUS),
    "MatTichNgayGhiChuTuyenBo": ("Ngày ghi chú tuyên bố mất tích", K.DATE),
    "MatTichCanCuTuyenBo": ("Căn cứ tuyên bố mất tích", K.FREE_TEXT),
    "MatTichNgayGhiChuHuyTuyenBo": ("Ngày ghi chú hủy tuyên bố mất tích", K.DATE),
    "MatTichCanCuHuyTuyenBo": ("Căn cứ hủy tuyên bố mất tích", K.FREE_TEXT),
    "HanCheNangLucHanhVi": ("Tuyên bố hạn chế năng lực hành vi", K.LEGAL_STATUS),
    "HanCheNangLucHanhViNgayGhiChuTuyenBo": ("Ngày ghi chú tuyên bố hạn chế năng lực hành vi", K.DATE),
    "HanCheNangLucHanhViCanCuTuyenBo": ("Căn cứ tuyên bố hạn chế năng lực hành vi", K.FREE_TEXT),
    "HanCheNangLucHanhViNgayGhiChuHuyTuyenBo": ("Ngày ghi chú hủy tuyên bố hạn chế năng lực hành vi", K.DATE),
    # "...NgayCanCu..." (sic) in the import header although the column holds a legal basis like its siblings;
    # the key is kept verbatim so exports line up.
    "HanCheNangLucHanhViNgayCanCuHuyTuyenBo": ("Căn cứ hủy tuyên bố hạn chế năng lực hành vi", K.FREE_TEXT),
}

# Attributes that are typically blank in the books even when the column exists.
_OPTIONAL_ATTRIBUTES = frozenset({
    "QuocTichKhac", "QuocTichKhacStr", "SoDinhDanh", "SoDinhDanhCaNhan", "LoaiGiayToTuyThan", "GiayToKhac",
    "SoGiayToTuyThan", "NgayCapGiayToTuyThan", "NoiCapGiayToTuyThan", "LoaiCuTru", "GioPhutChet",
})
# Attributes of the import spreadsheet without a column in the printed books.
_IMPORT_ONLY_ATTRIBUTES = frozenset({
    "QuocTichStr", "QuocTichKhacStr", "GiayToKhac",
    "MatTich", "MatTichNgayGhiChuTuyenBo", "MatTichCanCuTuyenBo", "MatTichNgayGhiChuHuyTuyenBo",
    "MatTichCanCuHuyTuyenBo", "HanCheNangLucHanhVi", "HanCheNangLucHanhViNgayGhiChuTuyenBo",
    "HanCheNangLucHanhViCanCuTuyenBo", "HanCheNangLucHanhViNgayGhiChuHuyTuyenBo",
    "HanCheNangLucHanhViNgayCanCuHuyTuyenBo",
})


def _person(role: str, *attributes: str) -> tuple[Field, ...]:
    """Fields ``role + attribute`` for one person, labelled "<Role>: <attribute heading>"."""
    out = []
    for attr in attributes:
        label, kind = _ATTRIBUTES[attr]
        out.append(Field(
            key=f"{role}{attr}", label=f"{ROLES[role].label}: {label}", kind=kind, role=role, attribute=attr,
            optional=attr in _OPTIONAL_ATTRIBUTES or attr in _IMPORT_ONLY_ATTRIBUTES,
            import_only=attr in _IMPORT_ONLY_ATTRIBUTES,
        ))
    return tuple(out)


# The register entry: identical in every book.
COMMON_FIELDS: tuple[Field, ...] = (
    Field("so", "Số", K.ENTRY_NUMBER),
    Field("quyenSo", "Quyển số", K.VOLUME_NUMBER),
    Field("trangSo", "Trang số", K.PAGE_NUMBER),
    Field("ngayDangKy", "Ngày, tháng, năm đăng ký", K.DATE),
    Field("loaiDangKy", "Loại đăng ký", K.REGISTRATION_TYPE, optional=True),  # often inferred, rarely written
    Field("noiDangKy", "Nơi đăng ký", K.REGISTRATION_OFFICE),
    Field("nguoiKy", "Người ký", K.PERSON_NAME),
    Field("chucVuNguoiKy", "Chức vụ người ký", K.OFFICER_TITLE),
    Field("nguoiThucHien", "Người thực hiện", K.PERSON_NAME),
    Field("ghiChu", "Ghi chú", K.FREE_TEXT, optional=True),
)

_ID_FIELDS = ("LoaiGiayToTuyThan", "SoGiayToTuyThan", "NgayCapGiayToTuyThan", "NoiCapGiayToTuyThan")
# Births: order of the import header. The parent blocks also carry QuocTichStr/-Khac columns there.
_PARENT = ("SoDinhDanhCaNhan", "HoTen", "NgaySinh", "DanToc", "QuocTich", "QuocTichStr", "QuocTichKhac",
           "QuocTichKhacStr", "LoaiCuTru", "NoiCuTru", "LoaiGiayToTuyThan", "SoGiayToTuyThan")
_SPOUSE = ("HoTen", "NgaySinh", "DanToc", "QuocTich", "LoaiCuTru", "NoiCuTru", *_ID_FIELDS)
_RECOGNITION_PERSON = ("HoTen", "NgaySinh", "DanToc", "QuocTich", "QueQuan", "LoaiCuTru", "NoiCuTru", *_ID_FIELDS)

KHAI_SINH = Book("khai_sinh", "Sổ đăng ký khai sinh", "nks", (
    *COMMON_FIELDS,
    *_person("nks", "SoDinhDanh", "HoTen", "GioiTinh", "NgaySinh", "NgaySinhBangChu", "NoiSinh", "NoiSinhDVHC",
             "QueQuan", "DanToc", "QuocTich", "QuocTichStr", "QuocTichKhac", "QuocTichKhacStr", "LoaiKhaiSinh",
             "MatTich", "MatTichNgayGhiChuTuyenBo", "MatTichCanCuTuyenBo", "MatTichNgayGhiChuHuyTuyenBo",
             "MatTichCanCuHuyTuyenBo", "HanCheNangLucHanhVi", "HanCheNangLucHanhViNgayGhiChuTuyenBo",
             "HanCheNangLucHanhViCanCuTuyenBo", "HanCheNangLucHanhViNgayGhiChuHuyTuyenBo",
             "HanCheNangLucHanhViNgayCanCuHuyTuyenBo"),
    *_person("me", *_PARENT),
    *_person("cha", *_PARENT),
    *_person("nyc", "HoTen", "QuanHe", "LoaiGiayToTuyThan", "GiayToKhac", "SoGiayToTuyThan",
             "NgayCapGiayToTuyThan", "NoiCapGiayToTuyThan"),
    # Births registered abroad first (loaiDangKy 3): import-only columns.
    Field("soDangKyNuocNgoai", "Số đăng ký ở nước ngoài", K.ENTRY_NUMBER, optional=True, import_only=True),
    Field("ngayDangKyNuocNgoai", "Ngày đăng ký ở nước ngoài", K.DATE, optional=True, import_only=True),
    Field("cqNuocNgoaiDaDangKy", "Cơ quan nước ngoài đã đăng ký", K.REGISTRATION_OFFICE, optional=True,
          import_only=True),
    Field("qgNuocNgoaiDaDangKy", "Quốc gia đã đăng ký", K.NATIONALITY, optional=True, import_only=True),
))

KHAI_TU = Book("khai_tu", "Sổ đăng ký khai tử", "nkt", (
    *COMMON_FIELDS,
    *_person("nkt", "HoTen", "GioiTinh", "NgaySinh", "DanToc", "QuocTich", "LoaiCuTru", "NoiCuTru", *_ID_FIELDS,
             "NgayChet", "GioPhutChet", "NoiChet", "NguyenNhanChet"),
    *_person("gbt", "Loai", "So", "Ngay", "CoQuanCap"),
    *_person("nyc", "HoTen", "QuanHe", *_ID_FIELDS),
))

KET_HON = Book("ket_hon", "Sổ đăng ký kết hôn", "chong", (
    *COMMON_FIELDS,
    *_person("chong", *_SPOUSE),
    *_person("vo", *_SPOUSE),
))

NHAN_CHA_ME_CON = Book("nhan_cha_me_con", "Sổ đăng ký nhận cha, mẹ, con", "cm", (
    *COMMON_FIELDS,
    Field("quyetDinhSo", "Quyết định số", K.DOCUMENT_NUMBER, optional=True),
    Field("loaiXacNhan", "Loại xác nhận", K.RECOGNITION_TYPE),
    *_person("cm", *_RECOGNITION_PERSON),
    *_person("nc", *_RECOGNITION_PERSON),
    *_person("nyc", "HoTen", "QHNguoiDuocNhan", *_ID_FIELDS),
))

BOOKS: Mapping[str, Book] = MappingProxyType({b.key: b for b in (KHAI_SINH, KHAI_TU, KET_HON, NHAN_CHA_ME_CON)})


def get_book(key: str) -> Book:
    """The book called ``key``; :class:`UnknownBookError` (a ``KeyError``) naming the valid keys otherwise."""
    try:
        return BOOKS[key]
    except KeyError:
        raise UnknownBookError(f"unknown book {key!r}; valid books: {', '.join(BOOKS)}") from None


def get_field(book_key: str, field_key: str) -> Field:
    """Shortcut for ``get_book(book_key).field(field_key)``."""
    return get_book(book_key).field(field_key)
