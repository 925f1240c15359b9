"""Flag codes attached to fields and records, with their severity.

A flag is a short stable code (``"date_unreadable"``) so that records stay plain JSON and flags can be counted
and filtered; :data:`FLAGS` says what each code means and how serious it is. ``error`` flags send the record
to review whatever the confidences; ``warning`` flags are shown to the reviewer but do not by themselves; an
``info`` flag only records what the normalizer did. Record-level flags (cross-field rules) are also put on
the fields they concern, so an overlay can colour the right cells.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Flag:
    code: str
    severity: Severity
    description: str
    record: bool = False  # raised by a cross-field rule (inference.records.validate), not a normalizer
    # Two written values that cannot both be right: one of the fields it is on is misread (or miswritten), so
    # neither is sure enough to accept unseen, whatever the recognizer thought of it.
    contradiction: bool = False


# Vietnamese names run to five words, rarely six ("Nguyễn Phước Vĩnh Bảo Long", a second middle name).
MAX_NAME_WORDS = 6

_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

FLAGS: Mapping[str, Flag] = MappingProxyType({f.code: f for f in (
    # --- field level: what the normalizer found --------------------------------------------------------
    Flag("empty", _I, "no text in the cell"),
    Flag("unknown_field", _E, "the field key is not a column of this book; kept as text"),
    Flag("bad_confidence", _W, "the recognizer confidence was missing, not a number or outside 0..1"),
    Flag("merged_lines", _I, "several recognized lines of one cell were joined"),
    Flag("unusual_characters", _W, "characters outside the Vietnamese ledger character set"),
    Flag("normalizer_failed", _E, "the normalizer failed unexpectedly; the text is kept as it is"),
    Flag("fuzzy_match", _I, "matched a known value approximately (the score says how closely)"),
    Flag("place_name_corrected", _I, "a unit name misread in a place is written out as the gazetteer spells it "
         "(the field's text keeps what was read)"),
    Flag("facility_name_corrected", _I, "a health facility's name misread at the start of a place (\"Trung tâm Y Tứ "
         "Quyên\") is written out as the phrase it is (\"Trung tâm Y tế huyện\"; the field's text keeps what was read)"),
    Flag("text_unfinished", _W, "a place, office, authority or cause that stops on a separator or on a word that "
         "needs another (\"Kinh Môn,\", \"Giấy báo tử của\"): its end went to another cell"),
    Flag("authority_has_number", _W, "an issuing authority with a long run of digits (\"CMTND 025929629\"): an ID "
         "number read into the authority's cell"),
    Flag("ambiguous_match", _W, "two known values fit the text about equally well"),
    Flag("date_separators_misread", _W, "a date whose separators were misread or lost (\"19.70\", \"2431968\"): read "
         "from its digits alone, the one calendar date they can be"),
    Flag("date_words_respelled", _I, "a date's words ngày / tháng / năm read with their marks wrong (\"nam\" for "
         "\"năm\"): its numbers give the date"),
    Flag("ocr_digits_fixed", _W, "letters that look like digits (O, l, I, S, B) were read as digits"),
    Flag("date_extra_text", _W, "a date with other words around it (\"14/08/1914 Nam\"): another cell's text "
         "joined to it, left out of the value"),
    Flag("date_unreadable", _E, "not a date in any written form the books use"),
    Flag("date_invalid", _E, "a day or month out of range (e.g. 31/2)"),
    Flag("date_partial", _I, "only the year (or month and year) is written"),
    Flag("date_incomplete", _W, "only the year (or month and year) of a date the books always write in full "
                                "(the registration, a child's birth, a death): a line of it missing or misread"),
    Flag("date_two_digit_year", _W, "a two-digit year; the century was inferred"),
    Flag("date_in_future", _E, "a date after today"),
    Flag("date_too_old", _W, "a year before 1850"),
    Flag("words_corrected", _W, "misspelled number words in a date in words were corrected"),
    Flag("digits_in_words_date", _W, "the date-in-words column holds a numeric date"),
    Flag("time_unreadable", _E, "not a time of day (hours 0-23, minutes 0-59)"),
    Flag("gender_unknown", _E, "not a GioiTinh value"),
    Flag("ethnicity_unknown", _E, "not one of the 54 ethnic groups"),
    Flag("nationality_unknown", _W, "not a known nationality; kept as written"),
    Flag("id_type_unknown", _E, "not a LoaiGiayToTuyThan document type"),
    Flag("code_unknown", _E, "not a value of the column's code table"),
    Flag("relationship_unknown", _W, "not a known family relationship; kept as written"),
    Flag("id_number_format", _E, "an ID number that is no CMND (9 or 12 digits), CCCD (12), passport or card number"),
    Flag("id_number_province", _E, "a 12-digit ID number whose first three digits are no province code"),
    Flag("personal_id_format", _E, "a personal ID number (số định danh) that is not 12 digits with a province code"),
    Flag("name_has_digits", _E, "a person's name with digits in it"),
    Flag("name_too_long", _W, f"a person's name of more than {MAX_NAME_WORDS} words: two names run together "
         "(a line of another cell joined to it)"),
    Flag("name_has_relationship", _W, "a person's name ending in a kinship word (\"Lê Thị Phương Mẹ\"): the "
         "relationship column's word joined to it (left out of the value)"),
    Flag("name_short", _I, "a person's name of two words (\"Phạm Khánh\"): often one whose last word went to "
         "another cell; its score is lowered a little"),
    Flag("name_has_other_value", _W, "a date in words or a second person's name joined after a whole name (\"Lê Văn "
         "Bình ngày 12 tháng 05 năm 1949\"): left out of the value"),
    Flag("name_has_separator", _W, "a person's name with a comma, semicolon or dash inside (\"Trần Thị Hiền, "
         "Nội\"): what follows it is another cell's, and is left out of the value"),
    Flag("name_repeated_word", _W, "a person's name with a word or words twice in a row (\"Nguyễn Văn Văn Anh\", "
                                   "\"Lê Văn Nam Lê Văn Nam\"): a line read twice, or a misreading"),
    Flag("name_incomplete", _W, "a person's name of a single word, or ending in a middle name (Văn, Thị): a "
                                "word or line of it missing"),
    Flag("no_letters", _E, "a place, office, authority or title without a single letter: a number or date in "
                           "the wrong column"),
    Flag("not_an_office", _E, "a registering office that names no committee, administrative unit or department: "
                              "a label or another column read in its place"),
    Flag("not_a_title", _E, "a signer's title that names no post (chủ tịch, cán bộ tư pháp…): another column read "
                            "in its place"),
    Flag("name_is_a_title", _E, "a person's name that is a signer's title (\"Phó Chủ tịch UBND\"): the title "
                                "column's line read in its place"),
    Flag("title_has_name", _E, "a signer's title after a person's name (\"Võ Hữu Giang Chủ tịch\"): the signer's name "
                               "and title read as one value"),
    Flag("number_unreadable", _E, "an entry, volume or page number without digits"),
    Flag("number_is_a_date", _E, "a decision or notice number that reads as a whole date (\"28-07-2002\"): "
                                 "a date column read in its place"),
    Flag("entry_number_from_sequence", _W, "the entry number read contradicts the entries around it on the page, "
                                          "which number on by one; theirs is kept (the text read is in read_text)"),
    Flag("entry_number_read_in_sequence", _W, "the page's entry numbers, read as no run (\"45/1988\", \"năm\", "
         "\"4/2005\" for 43, 45, 46), were read again as one: this number, the run's, read nearly as likely on its "
         "crop as the text read, which is kept in read_text"),
    Flag("entry_number_unseen", _W, "no entry number was found in the entry; the number the entries just around "
                                   "it count to is given, unseen (confidence 0)"),
    Flag("entry_number_year_from_dates", _W, "the year in the entry number read (\"246/2011\") is not the year "
         "of the page's registration dates nor of the entry's own; the number takes the page's year (the text "
         "read is in read_text)"),
    Flag("office_name_from_places", _W, "the registering office's commune name read (\"UBND thị trấn Kinh "
         "Giang\") is near a commune the page's places matched in the gazetteer, and is spelled as that one "
         "(the text read is kept in read_text)"),
    Flag("header_value_read_with_label", _W, "the page-header value as read in one line with its printed label "
         "(\"Quyển 01\"), where the value's own box read no such value (\"La\") or read another less surely "
         "(the text read in the value's box is kept in read_text)"),
    Flag("date_read_as_a_date", _W, "the date was read as no date (\"19/6/193\", \"21.18.1997\"); read again with one "
         "digit changed, dropped or added, or its digits cut by a separator, with a date counted in its favour, this "
         "one was the likelier (the text read is kept in read_text)"),
    Flag("office_read_from_gazetteer", _W, "the registering office's commune was read again against the communes "
         "of the provinces the page's places matched (\"UBND xã Hiền Mỹ\" → \"UBND xã Điền Mỹ\"), with a commune "
         "there counted in its favour; this one was the likelier (the text read is kept in read_text)"),
    Flag("header_number_read_again", _W, "the volume or page number was read as no number (\"ba\" for a faint "
         "\"1\"); read again as each number up to 99 on its crop, with a number counted in its favour, this one "
         "was the likelier (the text read is kept in read_text)"),
    Flag("page_number_from_entries", _W, "the page number read is not the page the entry numbers put the page "
         "at (entries run on from page to page, a page's rows at a time: entry 137 on a page of 11 rows is on "
         "page 13); the crop read that page nearly as well, and it is kept (the text read is kept in read_text)"),
    Flag("page_number_not_read", _W, "no page number was found in the page header; the page the entry numbers "
         "put the page at is given, unread (no box, confidence 0: for review)"),
    Flag("header_number_read_from_crops", _W, "the volume or page number was read doubtfully; read again from its "
         "box moved a few pixels each way, this reading was the likeliest over all those crops (the text read is "
         "kept in read_text)"),
    Flag("volume_year_from_dates", _W, "the volume's year read (\"01/2014\") is one digit off the year of the "
         "page's registration dates; the volume takes theirs (the text read is kept in read_text)"),
    Flag("date_read_against_entry", _W, "the entry's dates contradicted one another (a parent born after the "
         "child could be, a death after its registration) and this date's crop reads nearly as well with one "
         "digit of its year changed so that they do not; that reading is kept (the text read is in read_text)"),
    Flag("date_read_in_order", _W, "the registration date read lay out of the page's order (before the entry "
         "above it or after the one below); its crop reads nearly as well with one digit changed, dropped or "
         "added so that it lies between them, and that reading is kept (the text read is in read_text)"),
    Flag("name_read_jointly", _W, "the declarant is this person by the relationship read, and the two cells' "
         "names, read a letter or two apart, are read as one name: the reading likeliest on both cells' crops "
         "together (the text read is kept in read_text)"),
    Flag("registration_year_from_sequence", _W, "the registration year read (\"1984\") is one digit off the "
         "year of the entries on either side, which agree; the date takes theirs (the text read is kept in "
         "read_text)"),
    Flag("registration_year_from_volume", _W, "the registration year read (\"2006\") is one digit off the year "
         "the page's volume is numbered by (\"01/2004\"), which most of the page's dates hold: a volume holds one "
         "year's registrations, and the date takes its year (the text read is kept in read_text)"),
    Flag("place_line_end_read_again", _W, "a line of the place ending in no punctuation (\"Thanh Miện\" over "
         "\"Hải Dương\") was read again with a comma after it, and its crop read that as likely, or nearly: a comma "
         "at a line's end is easily cut off (the text read is kept in read_text)"),
    Flag("place_read_from_gazetteer", _W, "a unit name in the place was read as a gazetteer unit's near it "
         "(\"Huyện Quỳnh Lương\" as \"Huyện Quỳnh Lưu\"): that reading, scored on the line's crop with the "
         "names the gazetteer holds counted in its favour, was the likelier (the text read is kept in read_text)"),
    Flag("surname_read_from_list", _W, "the name's first word read is no Vietnamese surname; a listed surname "
         "near it (\"Thạm\" as \"Phạm\"), scored on the line's crop with a listed surname counted in its "
         "favour, was the likelier reading (the text read is kept in read_text)"),
    Flag("given_name_read_from_list", _W, "a word of the name after its surname is no listed given or middle "
         "name; a listed name near it (\"Hàng\" as \"Hằng\"), scored on the line's crop with listed names "
         "counted in its favour, was the likelier reading (the text read is kept in read_text)"),
    Flag("relationship_read_again", _W, "a word or two alone under the declarant's name read as no relationship "
         "(\"Nữ\" under the name where \"Mẹ\" was written); read again as each relationship the books write, "
         "scored on the line's crop with a relationship counted in its favour, a relationship was the likelier "
         "reading and became the relationship field (the text read is kept in read_text)"),
    Flag("nationality_read_again", _W, "a nationality read as none the books write (\"Con Nam\") was read as the "
         "nationality its crop scores best with the list's prior (\"Việt Nam\"); the field's read_text keeps what was read"),
    Flag("gender_read_beside_date", _W, "the entry had no gender, and the last word of the date of birth's line, "
         "which the line's reading left out (\"11/09/1926 Nữ\" read \"11/09/1922\"), read alone as a gender; "
         "the date's line ends before it (nothing was read first: read_text is empty)"),
    Flag("gender_read_again", _W, "a gender read as none (\"194\" for a \"nữ\" of a few strokes) was read as the "
         "gender its crop scores best with a gender counted in its favour; the field's read_text keeps what was read"),
    Flag("ethnicity_read_again", _W, "an ethnicity read as none of the list, or only near one (\"Tài\" for "
         "\"Tày\"), was read as the ethnic group its crop scores best with a listed name counted in its favour; the "
         "field's read_text keeps what was read"),
    Flag("place_unmatched", _W, "names administrative units that are not in the pre-2025 gazetteer"),
    Flag("place_partly_matched", _W, "some of the written units do not fit the others in the gazetteer "
         "(renamed, moved or misread); the best-fitting units are kept"),
    Flag("place_ambiguous", _W, "more than one set of administrative units fits"),
    Flag("place_historical", _I, "names a province that was split or merged before 2025 (e.g. Hải Hưng)"),
    Flag("place_abroad", _I, "a place in another country; not matched to the gazetteer"),
    Flag("place_no_admin_unit", _I, "no administrative unit named (e.g. 'Tại nhà', a hospital)"),
    Flag("filled_from_words", _W, "the numeric date was unreadable; its value was taken from the date in words"),
    # --- record level: cross-field rules (inference.records.validate) ----------------------------------
    Flag("missing_required", _E, "a field every entry must have (name, registration date, birth date) is missing",
         True),
    Flag("birth_after_registration", _E, "born after the registration date", True),
    Flag("date_words_mismatch", _E, "the date in words and the numeric date disagree", True),
    Flag("parent_age_implausible", _E, "a parent younger than 12 or (mother) older than 60 / (father) older "
         "than 80 at the child's birth, or born after the child", True),
    Flag("parent_age_unusual", _W, "a parent younger than 16 or (mother) older than 50 / (father) older "
         "than 65 at the child's birth", True),
    Flag("death_before_birth", _E, "the date of death is before the date of birth", True),
    Flag("death_after_registration", _E, "the death is after its registration", True),
    Flag("age_implausible", _E, "an age over 120 years", True),
    Flag("spouse_under_age", _E, "a spouse under the legal marriage age at registration (man 20, woman 18)",
         True),
    Flag("spouse_age_uncertain", _W, "a spouse may be under the legal marriage age (only the birth year is "
         "known)", True),
    Flag("registration_type_inconsistent", _W, "loaiDangKy says on time (or late) but the delay says otherwise "
         "(60 days for births, 15 for deaths)", True, contradiction=True),
    Flag("declarant_mismatch", _W, "the declarant is the father (mother) but the name differs from his (hers)",
         True, contradiction=True),
    Flag("gender_name_mismatch", _W, "the middle name ('Văn' / 'Thị') contradicts the gender", True,
         contradiction=True),
    Flag("id_number_type_mismatch", _E, "the ID number's format does not fit the document type", True),
    Flag("id_number_holder_mismatch", _W, "a CCCD / personal ID number whose century-gender or year digits "
         "disagree with the holder's birth date or gender", True, contradiction=True),
    Flag("id_issued_before_birth", _E, "an identity document issued before its holder was born", True),
    Flag("id_issued_after_registration", _E, "an identity document issued after the registration", True),
    Flag("entry_year_mismatch", _E, "the year in the entry or volume number is not the registration year: one of "
         "them is misread", True),
    Flag("death_notice_date_order", _W, "the death notice is dated before the death or after the registration",
         True, contradiction=True),
    Flag("birth_case_inconsistent", _W, "nksLoaiKhaiSinh says a parent is unknown but that parent's columns "
         "are filled", True, contradiction=True),
    Flag("later_date_before_registration", _W, "an annotation date (ghi chú) before the registration", True,
         contradiction=True),
)})


class UnknownFlagError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def severity(code: str) -> Severity:
    """The severity of flag ``code``; :class:`UnknownFlagError` naming the known codes otherwise."""
    try:
        return FLAGS[code].severity
    except KeyError:
        raise UnknownFlagError(f"unknown flag {code!r}; known: {', '.join(FLAGS)}") from None


def has_error(codes: Iterable[str]) -> bool:
    return any(severity(c) is Severity.ERROR for c in codes)


def add_flag(flags: list[str], code: str) -> None:
    """Append ``code`` once (flags keep their order of first appearance)."""
    severity(code)  # validate
    if code not in flags:
        flags.append(code)
