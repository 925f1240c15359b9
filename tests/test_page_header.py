"""The page header read by its printed labels (inference/page_header.py and PagePipeline.read_header)."""
from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

from inference.page_header import (HeaderChunk, header_band, header_chunks, header_labels, label_alone,
                                   label_at_end, label_at_start, label_crop, same_line, value_cuts)


def test_labels_are_read_at_the_start_or_the_end_of_a_text_with_or_without_diacritics():
    assert label_at_start("Quyển số: 01/2003") == ("quyenSo", len("Quyển số: "), 1.0)
    assert label_at_start("Quyen: 01") == ("quyenSo", len("Quyen: "), 0.9)
    assert label_at_start("Trang, 6")[:2] == ("trangSo", len("Trang, "))
    assert label_at_start("Ủy ban nhân dân: UBND xã An")[0] == "noiDangKy"
    # The longest label wins ("Quyển số", not "Quyển" and a stray "số"); a value alone starts with none.
    assert label_at_start("Quyển số:")[1] == len("Quyển số:")
    assert label_at_start("01/2003") is None and label_at_start("") is None
    assert label_at_end("...... Trang:") == ("trangSo", 1.0) and label_at_end("Trang: 6") is None
    assert label_alone("Trang:", "trangSo") and not label_alone("Trang: 6", "trangSo")
    assert not label_alone("Trang:", "quyenSo")


def test_the_band_lies_above_the_column_headings_across_the_table_without_the_title():
    title, columns = (300, 60, 700, 100), [(50, 180, 300, 230), (300, 180, 600, 230), (600, 175, 1000, 230)]
    assert header_band([title, *columns], (1100, 1500)) == (50, 0.0, 1000, 175)
    # On a spread the header runs along the right page's top, level with the title: the band starts at the top.
    assert header_band(columns, (1100, 1500))[1] == 0.0
    assert header_band([title], (1100, 1500)) is None


def _font(size: int):
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def _header_page():
    """A header line: "Quyển số:" and "01/2003" after it, a dotted leader, then "Trang:" and "6", another
    leader. Returns the page and where each value starts."""
    page = Image.new("RGB", (800, 120), (236, 229, 212))
    draw = ImageDraw.Draw(page)
    font, hand = _font(16), _font(24)
    volume_x = 20 + font.getlength("Quyển số:") + 12
    draw.text((20, 50), "Quyển số:", font=font, fill=(40, 40, 40))
    draw.text((volume_x, 42), "01/2003", font=hand, fill=(30, 40, 140))
    draw.text((260, 56), "." * 40, font=font, fill=(60, 60, 60))
    draw.text((480, 50), "Trang:", font=font, fill=(40, 40, 40))
    draw.text((580, 42), "6", font=hand, fill=(30, 40, 140))
    draw.text((605, 56), "." * 30, font=font, fill=(60, 60, 60))
    return page, volume_x, 580


def test_the_bands_ink_becomes_chunks_of_labels_and_values_without_the_leaders():
    page, volume_x, page_x = _header_page()
    chunks = header_chunks(page, (0, 0, 800, 120))
    # Left to right, label then value; no chunk runs on into a dotted leader.
    assert len(chunks) == 4
    label, volume, page_label, number = chunks
    assert label.bbox[0] <= 22 and label.bbox[2] < volume_x <= volume.bbox[0] + 2 and volume.bbox[2] < 260
    assert page_label.bbox[0] <= 482 and page_label.bbox[2] < page_x <= number.bbox[0] + 2 and number.bbox[2] < 605
    assert all(same_line(label.bbox, c.bbox) for c in chunks)
    assert header_chunks(page, (0, 0, 10, 5)) == []


def test_a_chunk_of_label_and_value_can_be_cut_only_at_its_wide_gaps():
    chunk = HeaderChunk((20, 40, 220, 70), [(20, 50, 60, 66), (62, 50, 100, 66), (125, 42, 220, 70)])
    # 2 px between the label's letters is no cut; 25 px before the handwriting is.
    assert value_cuts(chunk) == [((20, 50, 100, 66), (125, 42, 220, 70))]
    assert value_cuts(HeaderChunk((20, 40, 60, 70), [(20, 40, 60, 70)])) == []


def test_a_label_is_found_just_left_of_a_value_and_a_chunk_starting_with_a_label_is_one():
    chunk = HeaderChunk((20, 40, 220, 70), [(20, 50, 60, 66), (64, 50, 100, 66), (125, 42, 220, 70)], "Quyển số: 01/2003")
    # A value the detector found starts inside the chunk: its label is the chunk's ink left of it.
    assert label_crop((123, 38, 222, 72), [chunk]) == (20, 50, 100, 66)
    # A value on another line, or far from any chunk, has none.
    assert label_crop((123, 140, 222, 172), [chunk]) is None
    (label,) = header_labels([chunk, HeaderChunk((400, 40, 450, 70), [(400, 40, 450, 70)], "01/2003")])
    assert label.key == "quyenSo" and 100 <= label.end_x <= 125


class _Reader:
    """Reads the crops of the header's value cuts as given, in the order they are asked for."""

    def __init__(self, texts):
        self.texts = list(texts)

    def __call__(self, work, lines, **options):
        for line in lines:
            line.text, line.confidence = self.texts.pop(0), 0.95


def test_the_pipeline_keys_header_values_by_their_labels_and_reads_a_value_the_detector_missed():
    from inference.pages import FieldResult, LineResult, PagePipeline

    class Layout:
        class config:
            field_keys = ["noiDangKy", "quyenSo", "trangSo"]

    pipeline = PagePipeline(Layout(), None, deskew=False)
    volume_chunk = HeaderChunk((20, 40, 220, 70), [(20, 50, 60, 66), (64, 50, 100, 66), (125, 42, 220, 70)],
                               "Quyển số: 01/2003", 0.9)
    page_chunk = HeaderChunk((480, 40, 560, 70), [(480, 50, 530, 66), (550, 42, 560, 70)], "Trang, 6", 0.8)
    office_chunk = HeaderChunk((600, 40, 790, 70), [(600, 50, 640, 66), (660, 50, 700, 66), (720, 42, 790, 70)],
                               "Nơi đăng ký: UBND xã An", 0.7)
    volume = FieldResult("noiDangKy", (123, 38, 222, 72), 0.8, 0.9, [LineResult((123, 38, 222, 72), "01/2003", 0.9)])
    # The detector took the page number for the volume and missed the office's value.
    page = FieldResult("quyenSo", (548, 40, 562, 72), 0.7, 0.9, [LineResult((548, 40, 562, 72), "6", 0.9)])
    chunks = [volume_chunk, page_chunk, office_chunk]
    crops = {id(f): LineResult(box) for f in (volume, page) if (box := label_crop(f.bbox, chunks))}
    crops[id(volume)].text, crops[id(page)].text = "Quyển số:", "Trang:"
    # The office chunk's cuts, left to right: "Nơi" | "đăng ký: UBND xã An", "Nơi đăng" | "ký: UBND...",
    # "Nơi đăng ký:" | "UBND xã An": the last cut whose left piece is the label alone gives the value.
    assert len(value_cuts(office_chunk)) == 2
    pipeline.recognize_lines = _Reader(["Nơi", "đăng ký: UBND xã An", "Nơi đăng ký:", "UBND xã An"])
    fields = pipeline.read_header(Image.new("RGB", (800, 120)), [volume, page], chunks, crops)
    assert [(f.key, f.text, f.key_source) for f in fields] == [
        ("quyenSo", "01/2003", "label"), ("trangSo", "6", "label"), ("noiDangKy", "UBND xã An", "label")]
    assert fields[2].bbox == (720, 42, 790, 70) and fields[2].key_score == pytest.approx(1.0)
    # Header fields keyed by a label keep their key: the detector's probabilities no longer move it.
    assert [f.key for f in pipeline.header_fields(fields, "khai_sinh")] == ["quyenSo", "trangSo", "noiDangKy"]


def test_without_labels_the_page_fields_stay_as_the_detector_keyed_them():
    from inference.pages import FieldResult, LineResult, PagePipeline

    pipeline = PagePipeline(None, None, deskew=False)
    volume = FieldResult("quyenSo", (123, 38, 222, 72), 0.8, 0.9, [LineResult((123, 38, 222, 72), "01/2003", 0.9)])
    noise = HeaderChunk((20, 40, 100, 70), [(20, 40, 100, 70)], "xyz", 0.1)
    pipeline.recognize_lines = _Reader([])
    assert pipeline.read_header(Image.new("RGB", (300, 100)), [volume], [noise], {}) == [volume]
    assert volume.key == "quyenSo" and volume.key_source == "detector"


def _read_blank(work, lines, **options):
    for line in lines:
        line.text, line.confidence = "", 0.0


def test_a_label_read_alone_takes_the_next_chunk_on_its_line_as_its_value_where_the_detector_found_none():
    from inference.pages import PagePipeline

    page, _, _ = _header_page()
    chunks = header_chunks(page, (0, 0, 800, 120))
    for chunk, text in zip(chunks, ["Quyển số:", "01/2003", "Trang:", "6"]):
        chunk.text, chunk.confidence = text, 0.9
    pipeline = PagePipeline(None, None, deskew=False)
    pipeline.recognize_lines = _read_blank  # the labels' own cuts hold no value
    fields = pipeline.read_header(page, [], chunks, {})
    assert [(f.key, f.text, f.bbox) for f in fields] == [("quyenSo", "01/2003", chunks[1].bbox),
                                                          ("trangSo", "6", chunks[3].bbox)]
    # A label followed by another label (its slot left blank) takes no value; nor does one far from any.
    chunks[1].text = "Trang số:"
    assert [f.key for f in pipeline.read_header(page, [], chunks, {})] == ["trangSo"]


def test_print_taken_for_headings_above_the_table_does_not_hide_the_header_band():
    from inference.pages import HeadingResult, PagePipeline

    # A title, the header line of _header_page under it, and the table's ruled heading cells below.
    page = Image.new("RGB", (800, 400), (236, 229, 212))
    title_text, title_font = "SỔ ĐĂNG KÝ NHẬN CHA, MẸ, CON", _font(22)
    ImageDraw.Draw(page).text((250, 20), title_text, font=title_font, fill=(20, 20, 20))
    end = 250 + title_font.getlength(title_text)
    header, volume_x, page_x = _header_page()
    page.paste(header, (0, 60))
    # The detector's title, in two pieces on one line.
    title = [HeadingResult((240, 10, 330, 52), 0.9), HeadingResult((330, 14, end + 10, 55), 0.9)]
    stray = HeadingResult((20, 100, 200, 125), 0.3)  # the header line's print, taken for a heading
    ruled = [HeadingResult((10, 200, 300, 240), 0.95, ruled=True), HeadingResult((300, 200, 790, 240), 0.95, ruled=True)]
    chunks = PagePipeline.header_chunks(page, [*title, stray, *ruled])
    # The band runs down to the table's ruled cells: the header's labels and values are found, the title not.
    assert len(chunks) == 4 and all(100 <= c.bbox[1] and c.bbox[3] <= 190 for c in chunks)
    assert chunks[1].bbox[0] <= volume_x + 2 and chunks[3].bbox[0] <= page_x + 2
    # Without ruled cells, the band ends at the top of the cells below the title, as before: the stray one's.
    unruled = [HeadingResult(c.bbox, 0.95) for c in ruled]
    assert all(c.bbox[3] <= 100 for c in PagePipeline.header_chunks(page, [*title, stray, *unruled]))


def test_a_one_stroke_value_joined_to_a_label_read_alone_is_cut_from_it():
    from inference.pages import PagePipeline

    # "Trang: 1": the "1" close after the colon joined the label's chunk, and the chunk read "Trang:".
    chunk = HeaderChunk((480, 40, 556, 70), [(480, 50, 530, 66), (536, 53, 538, 62), (548, 42, 556, 70)], "Trang:", 0.98)
    assert value_cuts(chunk) == [((480, 50, 538, 66), (548, 42, 556, 70))]
    pipeline = PagePipeline(None, None, deskew=False)
    pipeline.recognize_lines = _Reader(["Trang:", "1"])
    (page,) = pipeline.read_header(Image.new("RGB", (800, 120)), [], [chunk], {})
    assert (page.key, page.text, page.bbox, page.key_source) == ("trangSo", "1", (548, 42, 556, 70), "label")
    # A piece without a digit is the label's last word ("Quyển | số"), not its value.
    chunk = HeaderChunk((20, 40, 110, 70), [(20, 50, 70, 66), (80, 50, 110, 66)], "Quyển số", 0.8)
    pipeline.recognize_lines = _Reader(["Quyển", "số"])
    assert pipeline.read_header(Image.new("RGB", (800, 120)), [], [chunk], {}) == []


def test_a_header_value_read_with_its_label_replaces_the_boxs_reading_where_that_is_no_value_or_less_sure():
    from inference.pages import FieldResult, LineResult, PagePipeline

    def value(key, box, text, confidence):
        return FieldResult(key, box, 1.0, 0.9, [LineResult(box, text, confidence)], key_source="label")

    volume_chunk = HeaderChunk((20, 40, 160, 70), [(20, 50, 100, 66), (125, 42, 160, 70)], "Quyển 01", 0.98)
    page_chunk = HeaderChunk((480, 40, 570, 70), [(480, 50, 530, 66), (545, 42, 570, 70)], "Trang, trang 6", 0.6)
    # The volume's box read "11" less surely than the line "Quyển 01"; the page's box read no page number.
    volume = value("quyenSo", (123, 40, 160, 70), "11", 0.5)
    page = value("trangSo", (543, 40, 572, 70), "Dương 6", 0.9)
    changed = PagePipeline.header_values_from_labels([volume, page], [volume_chunk, page_chunk], "nhan_cha_me_con")
    assert (volume.text, page.text) == ("01", "trang 6") and changed == {id(volume): "11", id(page): "Dương 6"}
    assert volume.confidence == pytest.approx(0.98) and volume.lines[0].bbox == (123, 40, 160, 70)
    # Read as surely in the box ("14" against "Trang, 11"), read worse by the line ("1/199" against "1/1992"),
    # or found in two pieces ("Tr." and "6"): the box's reading stands.
    kept = [value("trangSo", (543, 40, 572, 70), "14", 0.57)]
    assert PagePipeline.header_values_from_labels(kept, [HeaderChunk(page_chunk.bbox, page_chunk.parts, "Trang, 11", 0.56)],
                                                  "khai_sinh") == {}
    kept = [value("quyenSo", (123, 40, 160, 70), "1/1992", 0.65)]
    assert PagePipeline.header_values_from_labels(kept, [HeaderChunk(volume_chunk.bbox, volume_chunk.parts, "Quyển 1/199",
                                                                     0.73)], "khai_sinh") == {}
    pieces = [value("trangSo", (530, 40, 545, 70), "Tr.", 0.42), value("trangSo", (548, 40, 572, 70), "6", 0.99)]
    assert PagePipeline.header_values_from_labels(pieces, [page_chunk], "khai_sinh") == {}
    assert [f.text for f in pieces] == ["Tr.", "6"] and kept[0].text == "1/1992"
    # The office is free wording: its chunk's reading, however sure, says nothing of which is right.
    office = [value("noiDangKy", (200, 40, 400, 70), "UBND xã Nghĩa An", 0.5)]
    office_chunk = HeaderChunk((20, 40, 400, 70), [(20, 50, 180, 66), (200, 42, 400, 70)], "Nơi đăng ký: xã Nghĩa",
                               0.9)
    assert PagePipeline.header_values_from_labels(office, [office_chunk], "khai_sinh") == {}
