"""Pages → records through the released layout detector: `hotich extract` over a folder (per-page JSON, overlay,
PAGE-XML, import workbooks; resumable; bad files reported, not fatal) and `POST /v1/pages:extract` on a real
server. Recognition is a stand-in (a fixed reading, or a tiny random recognizer): what is tested is the
plumbing around it, not reading accuracy (benchmarks/pages_pipeline.py measures that)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
import openpyxl
import pytest
from PIL import Image

from data.pages.export import read_page_xml
from data.pages.render import render_page

ROOT = Path(__file__).resolve().parents[1]
FIELD_KEYS = {"key", "text", "value", "confidence", "bbox", "flags"}
RECORD_KEYS = {"book", "entry", "fields", "flags", "needs_review"}


class FixedReading:
    """A recognizer that reads every line as the same confident text."""

    def __init__(self, text: str = "Nguyễn Văn An", confidence: float = 0.95):
        self.text, self.confidence, self.lines = text, confidence, 0

    def recognize(self, images, batch_size: int = 32):
        self.lines += len(images)
        return [SimpleNamespace(text=self.text, confidence=self.confidence) for _ in images]


@pytest.fixture(scope="module")
def page_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scans")
    for n, book in enumerate(("khai_sinh", "ket_hon")):
        image, _ = render_page(book, seed=40 + n, long_side=1200)
        image.save(folder / f"page-{n}.jpg", quality=90)
    (folder / "torn.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


def _assert_page_result(result: dict) -> None:
    page = result["page"]
    assert {"width", "height", "book", "entries", "page_fields", "headings"} <= set(page)
    assert page["entries"], "the released detector finds the entry rows of a clean synthetic page"
    for record in result["records"]:
        assert RECORD_KEYS <= set(record)
        for f in record["fields"]:
            assert FIELD_KEYS <= set(f) and len(f["bbox"]) == 4


def test_extract_folder_writes_every_output_resumes_and_reports_bad_files(page_folder, tmp_path):
    from inference.extract import extract_folder
    from inference.pages import PagePipeline, default_detector_dir
    from inference.layout import LayoutPredictor

    reading = FixedReading()
    pipeline = PagePipeline(LayoutPredictor(default_detector_dir()), reading, review_threshold=0.9)
    out = tmp_path / "out"
    summary = extract_folder(pipeline, [page_folder], out, book="khai_sinh", progress=False)

    assert summary["pages"] == 3 and summary["skipped_done"] == 0
    assert list(summary["failed"]) == ["torn.jpg"] and summary["failed"]["torn.jpg"]
    records = 0
    for stem in ("page-0", "page-1"):
        result = json.loads((out / "pages" / f"{stem}.json").read_text(encoding="utf-8"))
        _assert_page_result(result)
        assert result["page"]["book"] == "khai_sinh" and result["page"]["source"] == f"{stem}.jpg"
        records += len(result["records"])
        assert Image.open(out / "overlays" / f"{stem}.png").size == (result["page"]["width"], result["page"]["height"])
        tree = read_page_xml(out / "page-xml" / f"{stem}.xml")
        assert len(tree.filled_entries) == len(result["page"]["entries"])
        assert tree.headings and [h.text for h in tree.headings] == [h["text"] for h in result["page"]["headings"]]
    assert not (out / "pages" / "torn.json").exists()
    assert records > 0 and reading.lines > 0

    workbook = openpyxl.load_workbook(summary["workbooks"]["khai_sinh"])
    sheet = workbook.worksheets[0]
    data_rows = [row for row in sheet.iter_rows(min_row=2, values_only=True) if any(v is not None for v in row)]
    assert len(data_rows) >= records  # one row per record (below a header of one or more rows)

    # Resumable: finished pages are skipped, not read again; the bad file is reported again.
    before = {p.name: p.stat().st_mtime_ns for p in (out / "pages").iterdir()}
    reading.lines = 0
    again = extract_folder(pipeline, [page_folder], out, book="khai_sinh", progress=False)
    assert again["skipped_done"] == 2 and list(again["failed"]) == ["torn.jpg"] and reading.lines == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "pages").iterdir()} == before
    assert json.loads((out / "summary.json").read_text())["skipped_done"] == 2


def test_the_extract_command_runs_over_a_folder_and_exits_2_on_a_bad_page(page_folder, tmp_path, tiny_onnx_model):
    out = tmp_path / "cli-out"
    command = [sys.executable, "-m", "hotich", "extract", str(page_folder / "page-0.jpg"), str(page_folder / "torn.jpg"),
               "--out", str(out), "--model", tiny_onnx_model, "--threads", "1", "--no-overlay-text"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["pages"] == 2 and list(summary["failed"]) == ["torn.jpg"]
    _assert_page_result(json.loads((out / "pages" / "page-0.json").read_text(encoding="utf-8")))
    bad = subprocess.run([*command[:4], str(tmp_path / "missing"), "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such file or folder" in bad.stderr
    dpi = subprocess.run([*command[:5], "--out", str(out), "--pdf-dpi", "5"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert dpi.returncode == 2 and "--pdf-dpi must be between 36 and 1200" in dpi.stderr


def test_the_pages_endpoint_extracts_a_page_and_refuses_bad_requests(server_factory, tiny_onnx_model, page_folder):
    server = server_factory("--model", tiny_onnx_model)
    page = (page_folder / "page-0.jpg").read_bytes()
    url = server.url + "/v1/pages:extract"
    answer = httpx.post(url, files={"file": ("page-0.jpg", page, "image/jpeg")}, data={"book": "khai_sinh"},
                        timeout=120)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    _assert_page_result(result)
    assert result["page"]["book"] == "khai_sinh" and result["page"]["models"]["layout"]["version"]

    detected = httpx.post(url, files={"file": ("page-0.jpg", page, "image/jpeg")}, timeout=120)
    assert detected.status_code == 200 and detected.json()["page"]["book"] in ("khai_sinh", "khai_tu", "ket_hon",
                                                                                "nhan_cha_me_con")
    refused = {
        "unknown_book": httpx.post(url, files={"file": ("p.jpg", page, "image/jpeg")}, data={"book": "sổ ma"}),
        "missing_file": httpx.post(url, data={"book": "khai_sinh"}, files={"other": ("x.txt", b"x", "text/plain")}),
        "not_an_image": httpx.post(url, files={"file": ("torn.jpg", b"\xff\xd8 nope", "image/jpeg")}),
        "truncated": httpx.post(url, files={"file": ("cut.jpg", page[:3000], "image/jpeg")}),
        "not_multipart": httpx.post(url, content=page, headers={"content-type": "image/jpeg"}),
    }
    assert refused["unknown_book"].status_code == 422
    assert refused["unknown_book"].json()["error"]["code"] == "unknown_book"
    assert refused["missing_file"].status_code == 400
    assert refused["not_an_image"].status_code == 415 and refused["not_an_image"].json()["error"]["code"] == "not_an_image"
    assert refused["truncated"].status_code == 400 and refused["truncated"].json()["error"]["code"] == "corrupt_image"
    assert refused["not_multipart"].status_code == 415
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, format="PNG")
    blank = httpx.post(url, files={"file": ("blank.png", buffer.getvalue(), "image/png")}, timeout=60)
    assert blank.status_code == 200 and blank.json()["records"] == []  # an image with nothing on it: no records
    # A scan of several pages is refused whole (one page per request), not read in part; a PDF of one is read.
    frames = [Image.open(io.BytesIO(page)).convert("RGB"), Image.new("RGB", (300, 200), "white")]
    tiff, pdf = io.BytesIO(), io.BytesIO()
    frames[0].save(tiff, format="TIFF", save_all=True, append_images=frames[1:])
    several = httpx.post(url, files={"file": ("scan.tif", tiff.getvalue(), "image/tiff")}, timeout=60)
    assert several.status_code == 400 and several.json()["error"]["code"] == "several_pages"
    assert "2 pages" in several.json()["error"]["message"]
    frames[0].save(pdf, format="PDF", resolution=150.0)
    one = httpx.post(url, files={"file": ("scan.pdf", pdf.getvalue(), "application/pdf")}, data={"book": "khai_sinh"},
                     timeout=120)
    assert one.status_code == 200, one.text
    assert abs(one.json()["page"]["width"] - frames[0].width * 200 / 150) <= 2  # rendered at 200 dpi
    assert httpx.get(server.url + "/healthz").status_code == 200  # still up after all of it


def test_a_field_of_two_boxes_is_drawn_and_written_as_two(tmp_path):
    from data.pages.export import read_page_xml, to_page_xml
    from inference.extract import draw_overlay, result_to_truth

    field = {"key": "meNoiCuTru", "text": "xã Phú Thủy, Quảng Bình", "confidence": 0.8, "key_score": 0.9,
             "key_source": "heading", "bbox": [10, 100, 250, 139],
             "boxes": [[70, 100, 250, 118], [10, 121, 200, 139]],
             "lines": [{"bbox": [70, 100, 250, 118], "text": "xã Phú Thủy,", "confidence": 0.8},
                       {"bbox": [10, 121, 200, 139], "text": "Quảng Bình", "confidence": 0.9}]}
    result = {"page": {"width": 300, "height": 200, "book": "khai_sinh", "page_fields": [], "headings": [],
                       "review_threshold": 0.99,
                       "entries": [{"entry": 1, "bbox": [0, 90, 300, 150], "fields": [field]}]},
              "records": []}
    truth = result_to_truth(result, "p1")
    (f,) = truth.fields()
    assert [b.bbox for b in f.boxes] == [(70, 100, 250, 118), (10, 121, 200, 139)]
    assert [ln.box for ln in f.lines] == [0, 1]
    overlay = draw_overlay(Image.new("RGB", (300, 200), "white"), result, show_text=False)
    # The gap between the two parts (left of the first line, right of the second) stays unpainted.
    assert overlay.convert("RGB").getpixel((30, 109)) == (255, 255, 255)
    assert overlay.convert("RGB").getpixel((225, 130)) == (255, 255, 255)
    xml = tmp_path / "p1.xml"
    xml.write_text(to_page_xml(truth, "p1.png"), encoding="utf-8")
    (back,) = read_page_xml(xml).fields()
    assert [b.bbox for b in back.boxes] == [b.bbox for b in f.boxes] and [ln.box for ln in back.lines] == [0, 1]


def test_field_lines_can_be_read_with_beam_search_and_print_stays_greedy(page_folder):
    from PIL import Image

    from inference.layout import LayoutPredictor
    from inference.pages import PagePipeline, default_detector_dir

    class Recording(FixedReading):
        def __init__(self):
            super().__init__()
            self.calls = []

        def recognize(self, images, batch_size: int = 32, beam_width: int | None = None):
            self.calls.append((len(images), beam_width))
            return super().recognize(images, batch_size)

    image = Image.open(page_folder / "page-0.jpg")
    layout = LayoutPredictor(default_detector_dir())
    greedy, beam = Recording(), Recording()
    PagePipeline(layout, greedy, review_threshold=0.9)(image, book="khai_sinh")
    PagePipeline(layout, beam, review_threshold=0.9, field_beam_width=3)(image, book="khai_sinh")
    # Greedy: the page's lines in one call without a beam; with a beam, the field lines in one call of width 3
    # and the printed lines (headings, page header) in another, greedy.
    assert greedy.calls[0][1] is None and all(width is None for _, width in greedy.calls)
    assert beam.calls[0][1] == 3 and beam.calls[1][1] is None
    assert beam.calls[0][0] + beam.calls[1][0] == greedy.calls[0][0]
    with pytest.raises(ValueError, match="field_beam_width"):
        PagePipeline(layout, greedy, field_beam_width=0)


class PageOfColour:
    """A stand-in pipeline that reads a page's colour: one record per page, needing review, whose name field
    says which page of which file it was (so the test sees every page arrive once, in order)."""

    def __init__(self):
        self.seen: list[tuple[int, int, int]] = []

    def __call__(self, image, book=None):
        colour = tuple(int(v) for v in image.convert("RGB").getpixel((image.width // 2, image.height // 2)))
        self.seen.append(colour)
        field = {"key": "nksHoTen", "text": "Nguyễn Văn An", "value": "Nguyễn Văn An", "confidence": 0.5,
                 "bbox": [10, 10, 50, 30], "flags": [], "lines": []}
        page = {"width": image.width, "height": image.height, "book": "khai_sinh", "page_fields": [],
                "headings": [], "review_threshold": 0.95, "entries": [{"entry": 1, "bbox": [0, 0, 60, 40],
                                                                        "fields": [field]}]}
        return {"page": page, "records": [{"book": "khai_sinh", "entry": 1, "fields": [field], "flags": [],
                                           "needs_review": True}]}


def test_every_page_of_a_multi_page_tiff_and_a_pdf_is_extracted_and_resumed(tmp_path):
    from inference.extract import extract_folder
    from inference.records.spreadsheet import REVIEW_SHEET

    colours = {"red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255)}
    frames = [Image.new("RGB", (144, 72), name) for name in colours]
    scans = tmp_path / "scans"
    scans.mkdir()
    frames[0].save(scans / "book-1975.tif", save_all=True, append_images=frames[1:])
    frames[0].save(scans / "book-1976.pdf", save_all=True, append_images=frames[1:2], resolution=72.0)  # 2 x 1 in
    frames[2].save(scans / "single.pdf", resolution=72.0)
    (scans / "torn.pdf").write_bytes(b"%PDF-1.7\n cut short")
    reader = PageOfColour()
    out = tmp_path / "out"
    summary = extract_folder(reader, [scans], out, progress=False, pdf_dpi=144)

    # Every page once, in file then page order; a damaged PDF reported by name, the rest read.
    assert summary["pages"] == 7 and list(summary["failed"]) == ["torn.pdf"]
    assert summary["failed"]["torn.pdf"].startswith("torn.pdf:")
    expected = ["red", "green", "blue", "red", "green", "blue"]
    assert len(reader.seen) == 6
    for seen, name in zip(reader.seen, expected):
        assert max(abs(a - b) for a, b in zip(seen, colours[name])) <= 2, (seen, name)
    pages = {p.stem: json.loads(p.read_text(encoding="utf-8"))["page"] for p in (out / "pages").iterdir()}
    assert sorted(pages) == ["book-1975-p001", "book-1975-p002", "book-1975-p003", "book-1976-p001",
                             "book-1976-p002", "single"]
    assert pages["book-1975-p003"]["source"] == "book-1975.tif" and pages["book-1975-p003"]["source_page"] == 3
    assert pages["book-1976-p002"]["source"] == "book-1976.pdf" and pages["book-1976-p002"]["source_page"] == 2
    assert "source_page" not in pages["single"]
    assert (pages["book-1976-p001"]["width"], pages["book-1976-p001"]["height"]) == (288, 144)  # 144 dpi
    assert (pages["book-1975-p001"]["width"], pages["book-1975-p001"]["height"]) == (144, 72)
    assert all((out / "overlays" / f"{stem}.png").is_file() and (out / "page-xml" / f"{stem}.xml").is_file()
               for stem in pages)
    review = openpyxl.load_workbook(summary["workbooks"]["khai_sinh"])[REVIEW_SHEET]
    assert [row[1] for row in review.iter_rows(min_row=2, values_only=True)] == [
        "book-1975.tif p.1", "book-1975.tif p.2", "book-1975.tif p.3", "book-1976.pdf p.1", "book-1976.pdf p.2",
        "single.pdf"]

    # Resumable page by page: a page lost from the output is the only one read again.
    (out / "pages" / "book-1975-p002.json").unlink()
    reader.seen.clear()
    again = extract_folder(reader, [scans], out, progress=False, pdf_dpi=144)
    assert again["skipped_done"] == 5 and list(again["failed"]) == ["torn.pdf"]
    assert len(reader.seen) == 1 and max(abs(a - b) for a, b in zip(reader.seen[0], colours["green"])) <= 2


def test_page_names_stay_unique_across_folders_and_multi_page_files(tmp_path):
    from inference.extract import page_stems

    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / folder / "scan.png")
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    frames[0].save(tmp_path / "a" / "scan-p001.tif")  # one frame: named by its file
    frames[0].save(tmp_path / "b" / "scan.tif", save_all=True, append_images=frames[1:])
    files = [tmp_path / "a" / "scan.png", tmp_path / "b" / "scan.png", tmp_path / "a" / "scan-p001.tif",
             tmp_path / "b" / "scan.tif"]
    stems = page_stems(files)
    assert len(stems) == 5 and len(set(stems)) == 5
    assert stems["scan"] == (files[0], None) and stems["b__scan"] == (files[1], None)
    assert stems["scan-p001"] == (files[2], None)
    assert stems["b__scan-p001"] == (files[3], 0) and stems["scan-p002"] == (files[3], 1)
