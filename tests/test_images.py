"""Decoding uploads and scans (inference/images.py): a file of several pages (a multi-page TIFF, a PDF) is read
one page at a time or refused whole, never read in part; bad files name the file and the problem."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inference.images import BadImage, decode_image, page_count

COLOURS = ("red", "green", "blue")


def _frames(size=(60, 40)) -> list[Image.Image]:
    return [Image.new("RGB", size, colour) for colour in COLOURS]


def _save(frames: list[Image.Image], fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    frames[0].save(buffer, format=fmt, save_all=len(frames) > 1, append_images=frames[1:], **options)
    return buffer.getvalue()


def _refused(data: bytes, name: str, **kwargs) -> BadImage:
    with pytest.raises(BadImage) as caught:
        decode_image(data, name, 10**7, **kwargs)
    return caught.value


def test_a_multi_page_tiff_is_read_page_by_page_and_refused_whole():
    tiff = _save(_frames(), "TIFF")
    assert page_count(tiff, "scan.tif") == 3
    for index, colour in enumerate(COLOURS):
        page = decode_image(tiff, "scan.tif", 10**7, page=index)
        assert page.shape == (40, 60, 3)
        assert tuple(page[5, 5]) == Image.new("RGB", (1, 1), colour).getpixel((0, 0))
    whole = _refused(tiff, "scan.tif")
    assert (whole.status, whole.code) == (400, "several_pages") and "3 pages" in whole.message
    beyond = _refused(tiff, "scan.tif", page=3)
    assert (beyond.status, beyond.code) == (400, "no_such_page") and "page 4" in beyond.message
    # One frame: read as before, with or without naming the page.
    single = _save(_frames()[:1], "TIFF")
    assert page_count(single, "one.tif") == 1 and decode_image(single, "one.tif", 10**7).shape == (40, 60, 3)


def test_pdf_pages_are_rendered_at_the_dpi_asked_for():
    pdf = _save(_frames((144, 72)), "PDF", resolution=72.0)  # each page 2 x 1 inches
    assert page_count(pdf, "book.pdf") == 3
    second = decode_image(pdf, "book.pdf", 10**7, page=1, dpi=100)
    assert abs(second.shape[1] - 200) <= 1 and abs(second.shape[0] - 100) <= 1
    assert second[50, 100, 1] > 100 and second[50, 100, 0] < 50  # the green page
    assert abs(decode_image(pdf, "book.pdf", 10**7, page=0, dpi=300).shape[1] - 600) <= 1
    assert _refused(pdf, "book.pdf").code == "several_pages"
    with pytest.raises(BadImage) as caught:  # 2400 x 1200 px at 1200 dpi: over a limit of 1 Mpx
        decode_image(pdf, "book.pdf", 1_000_000, page=2, dpi=1200)
    assert (caught.value.status, caught.value.code) == (413, "image_too_large")
    assert "book.pdf page 3" in caught.value.message
    one = _save(_frames((144, 72))[:1], "PDF", resolution=72.0)
    height, width, _ = decode_image(one, "one.pdf", 10**7, dpi=72).shape  # one page: no need to name it
    assert abs(height - 72) <= 1 and abs(width - 144) <= 1


def test_pages_are_counted_from_a_path_as_from_the_bytes(tmp_path):
    for fmt, suffix in (("TIFF", "tif"), ("PDF", "pdf")):
        data = _save(_frames(), fmt)
        path = tmp_path / f"scan.{suffix}"
        path.write_bytes(data)
        assert page_count(path, path.name) == page_count(data, path.name) == 3
    torn = tmp_path / "torn.pdf"
    torn.write_bytes(b"%PDF-1.7\n cut short")
    with pytest.raises(BadImage) as caught:
        page_count(torn, torn.name)
    assert caught.value.code == "corrupt_pdf"


@pytest.mark.parametrize("data", [b"%PDF-1.7\n this is no PDF", None])
def test_a_damaged_pdf_is_refused_with_its_name(data):
    if data is None:  # a real PDF cut short
        data = _save(_frames(), "PDF")[:300]
    for call in (lambda: page_count(data, "torn.pdf"), lambda: decode_image(data, "torn.pdf", 10**7)):
        with pytest.raises(BadImage) as caught:
            call()
        assert (caught.value.status, caught.value.code) == (400, "corrupt_pdf")
        assert caught.value.message.startswith("torn.pdf:")


def test_bad_images_still_get_their_errors():
    png = _save(_frames()[:1], "PNG")
    assert np.asarray(decode_image(png, "a.png", 10**7)).shape == (40, 60, 3) and page_count(png, "a.png") == 1
    assert _refused(png[:60], "a.png").code == "corrupt_image"
    assert _refused(b"not an image", "a.png").code == "not_an_image"
    assert _refused(b"", "a.png").code == "empty_image"
    with pytest.raises(BadImage) as caught:
        decode_image(png, "a.png", 100)
    assert caught.value.code == "image_too_large"
