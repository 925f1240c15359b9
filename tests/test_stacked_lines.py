"""Written lines one above the other that the detector's line map ran into one box: found by the gaps in the
box's ink (:func:`inference.layout.stacked_lines`) and read one by one (``PagePipeline(stacked_line_factor=…)``)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

PAPER, INK = (232, 224, 205), (40, 50, 120)


def _write(draw: ImageDraw.ImageDraw, x0: int, x1: int, top: int, bottom: int) -> None:
    """A line of "handwriting" between rows ``top`` and ``bottom``: a wave of strokes with gaps for words."""
    mid, amp = (top + bottom) / 2, (bottom - top) / 2 - 1
    points = []
    for x in range(x0, x1):
        if (x - x0) % 60 > 48:  # a space between words
            if len(points) > 1:
                draw.line(points, fill=INK, width=2)
            points = []
            continue
        points.append((x, mid + amp * math.sin((x - x0) / 3.0)))
    if len(points) > 1:
        draw.line(points, fill=INK, width=2)


def _page(rule: bool = False) -> Image.Image:
    """Two written lines, rows 40-60 and 75-95 (64-86 touching a rule at 63 when ``rule``), x 50-300."""
    page = Image.new("RGB", (400, 200), PAPER)
    draw = ImageDraw.Draw(page)
    if rule:
        _write(draw, 50, 300, 40, 61)
        draw.line((20, 63, 380, 63), fill=(30, 30, 30), width=2)
        _write(draw, 50, 300, 65, 86)
    else:
        _write(draw, 50, 300, 40, 60)
        _write(draw, 50, 300, 75, 95)
    return page


def test_two_written_lines_in_one_box_are_cut_at_the_gap_between_them():
    from inference.layout import stacked_lines

    pieces = stacked_lines(_page(), (45, 35, 305, 100), line_height=25)
    assert len(pieces) == 2
    (a, b) = pieces
    # Each piece hugs its own ink (rows 40-60 and 75-95, x 50-300), as the detector's boxes do.
    assert 48 <= a[0] <= 52 and 48 <= b[0] <= 52 and 296 <= a[2] <= 302 and 296 <= b[2] <= 302
    assert 37 <= a[1] <= 42 and 58 <= a[3] <= 63 and 72 <= b[1] <= 77 and 93 <= b[3] <= 98
    # A ruled line between two lines touching it is a gap, not ink.
    pieces = stacked_lines(_page(rule=True), (45, 35, 305, 90), line_height=25)
    assert len(pieces) == 2 and pieces[0][3] <= 64 and pieces[1][1] >= 63


def test_one_written_line_or_a_speck_below_it_is_not_cut():
    from inference.layout import stacked_lines

    page = _page()
    assert stacked_lines(page, (45, 35, 305, 64), line_height=25) == [(45.0, 35.0, 305.0, 64.0)]
    # A dot under the line (a stain, a stroke's tail) holds too little ink to be a line of its own.
    ImageDraw.Draw(page).ellipse((100, 72, 103, 75), fill=INK)
    page.paste(PAPER, (40, 76, 320, 100))
    assert len(stacked_lines(page, (45, 35, 305, 100), line_height=25)) == 1
    # A box too short to hold two lines, or blank paper, is left whole.
    assert stacked_lines(page, (45, 35, 305, 50), line_height=25) == [(45.0, 35.0, 305.0, 50.0)]
    assert len(stacked_lines(Image.new("RGB", (400, 200), PAPER), (45, 35, 305, 100), line_height=25)) == 1


def _records(page: Image.Image, regions, **options) -> dict:
    from inference.pages import PagePipeline

    pipeline = PagePipeline(None, object(), deskew=False, review_threshold=0.0, **options)
    pipeline.detect = lambda image: (regions, image, np.array([[1.0, 0, 0], [0, 1.0, 0]]), 0.0)
    pipeline.heading_cells = lambda work, found: []
    read_lines = []

    def read(work, lines, **_):
        for line in lines:
            # The upper written line reads as the commune, the lower one as the district; a box over both, as
            # the recognizer reads two lines in one crop, as neither.
            top, bottom = line.bbox[1], line.bbox[3]
            if line.bbox[0] >= 310:
                line.text = "Nguyễn Văn An"
            else:
                line.text = "Xã Phú Thủy," if bottom < 75 else "Lệ Thủy" if top > 55 else "Lê Ng"
            line.confidence = 0.9
            read_lines.append(tuple(line.bbox))

    pipeline.recognize_lines = read
    result = pipeline(page, book="khai_sinh")
    (record,) = result["records"]
    read_lines.append(result["page"]["stacked_lines_cut"])
    return {f["key"]: f for f in record["fields"]}, read_lines


def test_the_pipeline_reads_a_box_of_two_lines_as_two():
    from inference.pages import PagePipeline
    from models.detection.layout import Region

    page = _page()
    # Three names beside, each on one line: the page's usual line.
    names = {"meHoTen": 110, "chaHoTen": 140, "nksHoTen": 170}
    for y in names.values():
        ImageDraw.Draw(page).rectangle((320, y + 3, 380, y + 20), fill=INK)
    regions = {"entry": [Region("entry", (0, 20, 400, 199), 1.0)],
               "field": [Region("field", (45, 35, 305, 100), 1.0, "meNoiCuTru", 0.9)]
               + [Region("field", (315, y, 385, y + 25), 1.0, key, 0.9) for key, y in names.items()],
               "line": [Region("line", (45, 35, 305, 100), 0.95)]
               + [Region("line", (315, y, 385, y + 25), 0.95) for y in names.values()]}
    fields, read = _records(page, regions, place_prior=0.0, line_end_comma_prior=0.0, surname_prior=0.0,
                            given_name_prior=0.0)
    assert fields["meNoiCuTru"]["text"] == "Xã Phú Thủy, Lệ Thủy"
    assert sum(1 for box in read[:-1] if box[0] < 310) == 2 and read[-1] == 1  # the page says one line was cut
    # A piece whose middle lies above the entry (the row of column numbers over the first entry) is no part of
    # it: the entry keeps the piece inside it.
    above = dict(regions, entry=[Region("entry", (0, 66, 400, 199), 1.0)])
    fields, read = _records(page, above, place_prior=0.0, line_end_comma_prior=0.0, surname_prior=0.0,
                            given_name_prior=0.0)
    assert fields["meNoiCuTru"]["text"] == "Lệ Thủy" and sum(1 for box in read[:-1] if box[0] < 310) == 1
    # Turned off: the box is read whole.
    fields, read = _records(page, regions, stacked_line_factor=0, place_prior=0.0, line_end_comma_prior=0.0,
                            surname_prior=0.0, given_name_prior=0.0)
    assert fields["meNoiCuTru"]["text"] == "Lê Ng" and sum(1 for box in read[:-1] if box[0] < 310) == 1
    assert read[-1] == 0
    with pytest.raises(ValueError, match="stacked_line_factor"):
        PagePipeline(None, object(), stacked_line_factor=1.0)
