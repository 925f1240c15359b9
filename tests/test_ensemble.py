"""Two recognizers reading page lines together (`inference/ensemble.py`) on tiny random ONNX exports: teacher-forced
scoring agrees with decoding, the ensemble picks the reading both find likeliest, and the wiring (pipeline, CLI
defaults, server) takes the second opinion where it should. Accuracy is the page benchmark's to measure."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]


def _lines(n: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    images = []
    for i in range(n):
        image = Image.new("RGB", (60 + 40 * i, 32), "white")
        draw = ImageDraw.Draw(image)
        for _ in range(3 + i):
            x, y = rng.integers(0, image.width - 8), rng.integers(4, 24)
            draw.line((int(x), int(y), int(x) + 8, int(y) + 4), fill="black", width=2)
        images.append(np.asarray(image))
    return images


@pytest.fixture(scope="module")
def members(tiny_onnx_model, other_tiny_onnx_model):
    from inference.ort_runtime import OnnxRecognizer

    return OnnxRecognizer(tiny_onnx_model, intra_op_threads=1), OnnxRecognizer(other_tiny_onnx_model, intra_op_threads=1)


def _pixels(recognizer, images):
    return recognizer.processor(images)["pixel_values"].numpy()


def test_scoring_a_decoded_reading_gives_back_its_probabilities(members):
    first, _ = members
    pixels = _pixels(first, _lines())
    ids, probs = first.decode_batch(pixels)
    scored = first.score_batch(pixels, ids)
    for greedy, teacher_forced in zip(probs, scored):
        # A reading cut at the token limit has no </s>: scoring adds that one probability at the end.
        assert len(teacher_forced) in (len(greedy), len(greedy) + 1)
        np.testing.assert_allclose(teacher_forced[:len(greedy)], greedy, rtol=1e-4, atol=1e-6)


def test_hypotheses_of_one_line_share_its_image_and_do_not_touch_each_other(members):
    first, _ = members
    pixels = _pixels(first, _lines(3))
    sequences = [[10, 11, 12, 13], [10], [], [20, 21]]
    together = first.score_batch(pixels, sequences, rows=[0, 0, 2, 1])
    alone = [first.score_batch(pixels[[row]], [seq])[0] for seq, row in zip(sequences, [0, 0, 2, 1])]
    assert [len(p) for p in together] == [5, 2, 1, 3]
    for a, b in zip(together, alone):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="rows"):
        first.score_batch(pixels, sequences, rows=[0, 0])
    with pytest.raises(ValueError, match="index"):
        first.score_batch(pixels, [[10]], rows=[3])
    with pytest.raises(ValueError, match="longer than this recognizer reads"):
        first.score_batch(pixels, [[10] * (first.token_limit + 1)], rows=[0])


def test_mixed_readings_take_each_run_of_differing_words_from_either_reading():
    from inference.ensemble import mixed_readings
    from models.recognition.tokenizer import CharTokenizer

    tokenizer = CharTokenizer()
    space = tokenizer.vocab[" "]

    def mixed(a, b, runs=3):
        ids = mixed_readings(tuple(tokenizer.encode(a, False)), tuple(tokenizer.encode(b, False)), space, runs)
        return sorted(tokenizer.decode(i) for i in ids)

    assert mixed("Xã Đông Phú, Huyện Quế Sơn", "Xã Đông Phù, Huyện Quê Sơn") == sorted([
        "Xã Đông Phú, Huyện Quê Sơn", "Xã Đông Phù, Huyện Quế Sơn"])
    # Runs of words inserted or left out are taken or left as wholes.
    assert mixed("A B C D", "A X C") == ["A B C", "A X C D"]
    # One run only (nothing to mix), more runs than allowed, the same reading: none.
    assert mixed("Nguyễn Ngọc Hoa", "Nguyễn Ngọc Hòa") == []
    assert mixed("a b c d e", "a x c y e", runs=1) == [] and mixed("a b", "a b") == []
    assert len(mixed("a b c d e f g", "x b y d z f w", runs=4)) == 2 ** 4 - 2


def test_the_ensemble_takes_the_reading_both_members_find_likeliest(members):
    from inference.ensemble import EnsembleRecognizer, mixed_readings

    first, second = members
    images = _lines()
    pixels = _pixels(first, images)
    ensemble = EnsembleRecognizer([first, second])
    ids, probs = ensemble.decode_batch(pixels)
    proposals = [first.decode_batch(pixels), second.decode_batch(pixels)]
    alone = EnsembleRecognizer([first, second], mixed_runs=0).decode_batch(pixels)[0]
    space = first.tokenizer.vocab[" "]
    for row in range(len(images)):
        # (reading, whether it ended with </s>: a reading cut at the token limit is scored without one)
        candidates = {tuple(ids_[row]): len(probs_[row]) > len(ids_[row]) for ids_, probs_ in proposals}
        assert tuple(alone[row]) in candidates
        if all(candidates.values()) and len(candidates) == 2:
            candidates.update((m, True) for m in mixed_readings(*candidates, space, ensemble.mixed_runs)
                              if len(m) < ensemble.token_limit)
        assert tuple(ids[row]) in candidates

        def member_probs(m, seq):
            scored = np.asarray(m.score_batch(pixels[[row]], [list(seq)])[0])
            return scored if candidates[tuple(seq)] else scored[:-1]

        def joint(seq):
            return sum(float(np.log(member_probs(m, seq)).sum()) for m in (first, second))

        assert joint(ids[row]) == pytest.approx(max(joint(c) for c in candidates), rel=1e-5)
        # Its probabilities are the geometric means of the members' (a reading one member doubts is doubted).
        expected = np.sqrt(member_probs(first, ids[row]) * member_probs(second, ids[row]))
        np.testing.assert_allclose(probs[row], expected, rtol=1e-4)
    readings = ensemble.recognize(images, batch_size=4)
    assert len(readings) == len(images) and all(0.0 <= r.confidence <= 1.0 for r in readings)


def test_an_ensemble_of_one_recognizer_twice_reads_as_it_does(members, monkeypatch):
    from inference.ensemble import EnsembleRecognizer

    first, _ = members
    images = _lines()
    alone = first.recognize(images)
    scored = []
    score_batch = first.score_batch
    monkeypatch.setattr(first, "score_batch", lambda *a, **k: scored.append(a) or score_batch(*a, **k))
    twice = EnsembleRecognizer([first, first]).recognize(images)
    assert [r.text for r in twice] == [r.text for r in alone]
    np.testing.assert_allclose([r.confidence for r in twice], [r.confidence for r in alone], rtol=1e-4)
    # Members that agree keep the probabilities they decoded with: nothing is scored twice.
    assert scored == []


def test_each_member_scores_only_the_readings_it_did_not_propose(members, monkeypatch):
    from inference.ensemble import EnsembleRecognizer

    first, second = members
    pixels = _pixels(first, _lines())
    proposals = [first.decode_batch(pixels), second.decode_batch(pixels)]
    differ = [row for row in range(len(pixels)) if proposals[0][0][row] != proposals[1][0][row]]
    assert differ, "the two tiny models should disagree on some line"
    asked = {}
    for name, member in (("first", first), ("second", second)):
        original = member.score_batch
        monkeypatch.setattr(member, "score_batch", lambda pv, seqs, rows, _o=original, _n=name:
                            asked.setdefault(_n, []).append((len(pv), seqs)) or _o(pv, seqs, rows))
    EnsembleRecognizer([first, second]).decode_batch(pixels)
    # Each scores the other's readings of the lines they disagree on, encoding only those lines.
    assert asked["first"] == [(len(differ), [proposals[1][0][row] for row in differ])]
    assert asked["second"] == [(len(differ), [proposals[0][0][row] for row in differ])]


def test_a_shifted_view_reads_the_lines_moved_and_joins_an_ensemble(members):
    from inference.ensemble import EnsembleRecognizer, ShiftedView

    first, _ = members
    pixels = _pixels(first, _lines(3))
    down, up = ShiftedView(first, 2), ShiftedView(first, -2)
    # Rows move by two, white (1.0 after normalization) where nothing comes from; the input is left as it was.
    before = pixels.copy()
    moved = down.moved(pixels)
    np.testing.assert_array_equal(moved[:, :, 2:], pixels[:, :, :-2])
    assert np.all(moved[:, :, :2] == 1.0) and np.all(up.moved(pixels)[:, :, -2:] == 1.0)
    np.testing.assert_array_equal(pixels, before)
    # It reads (and scores) what the recognizer reads on the moved pixels.
    assert down.decode_batch(pixels) == first.decode_batch(moved)
    ids, _ = first.decode_batch(pixels)
    np.testing.assert_allclose(down.score_batch(pixels, ids)[0], first.score_batch(moved, ids)[0], rtol=1e-5)
    assert down.token_limit == first.token_limit and down.directory == first.directory
    assert down.label == f"{first.directory.name} (moved +2 px)"
    # Beside the recognizer it is a member like any other.
    ensemble = EnsembleRecognizer([first, down])
    ids, probs = ensemble.decode_batch(pixels)
    assert len(ids) == len(pixels) and all(0 < p <= 1 for row in probs for p in row)
    for shift in (0, 1.5, True):
        with pytest.raises(ValueError, match="shift"):
            ShiftedView(first, shift)


def test_members_must_share_tokenizer_and_processor(tiny_onnx_model):
    from inference.ensemble import EnsembleRecognizer
    from inference.ort_runtime import OnnxRecognizer
    from models.recognition import LineImageProcessor

    a, b = OnnxRecognizer(tiny_onnx_model, intra_op_threads=1), OnnxRecognizer(tiny_onnx_model, intra_op_threads=1)
    with pytest.raises(ValueError, match="two recognizers"):
        EnsembleRecognizer([a])
    b.processor = LineImageProcessor(height=24)
    with pytest.raises(ValueError, match="image processor"):
        EnsembleRecognizer([a, b])


def test_the_released_second_opinion_is_never_the_default_recognizer():
    from inference.evaluate import SECOND_OPINION, default_model_dir, default_second_opinion_dir

    assert default_model_dir().name != SECOND_OPINION
    second = default_second_opinion_dir()
    assert second is not None and second.name == SECOND_OPINION


def test_the_pipeline_reads_with_a_second_recognizer_only_where_asked_or_released(tiny_onnx_model,
                                                                                  other_tiny_onnx_model):
    from inference.ensemble import EnsembleRecognizer, ShiftedView
    from inference.ort_runtime import OnnxRecognizer
    from inference.pages import FIELD_VIEW_SHIFT, PagePipeline

    paired = PagePipeline.from_dirs(None, tiny_onnx_model, 1, second_recognizer=other_tiny_onnx_model)
    # Field lines are read by both, printed lines (whose confidences name the columns) by the first alone.
    assert isinstance(paired.field_recognizer, EnsembleRecognizer) and isinstance(paired.recognizer, OnnxRecognizer)
    first, second, view = paired.field_recognizer.members
    assert [first.directory, second.directory] == [Path(tiny_onnx_model), Path(other_tiny_onnx_model)]
    assert first is paired.recognizer
    # ... and the first a third time, on the lines moved two pixels down; 0 leaves the two alone.
    assert isinstance(view, ShiftedView) and view.recognizer is first and view.shift == FIELD_VIEW_SHIFT == 2
    two = PagePipeline.from_dirs(None, tiny_onnx_model, 1, second_recognizer=other_tiny_onnx_model, field_view_shift=0)
    assert len(two.field_recognizer.members) == 2
    # A recognizer of one's own is not paired with the released second opinion, chosen beside the released one.
    assert PagePipeline.from_dirs(None, tiny_onnx_model, 1).field_recognizer is None
    with pytest.raises(ValueError, match="one recognizer"):
        PagePipeline.from_dirs(None, tiny_onnx_model, 1, second_recognizer=other_tiny_onnx_model,
                               single_recognizer=True)
    image = Image.fromarray(np.full((600, 900, 3), 255, np.uint8))
    assert paired(image, book="khai_sinh")["records"] == []


def test_the_pages_endpoint_reports_the_second_opinion_it_read_with(server_factory, tiny_onnx_model,
                                                                    other_tiny_onnx_model, tmp_path):
    import httpx

    from data.pages.render import render_page

    image, _ = render_page("khai_sinh", seed=41, long_side=1000)
    path = tmp_path / "page.jpg"
    image.save(path, quality=90)
    server = server_factory("--model", tiny_onnx_model, "--pages-second-model", other_tiny_onnx_model)
    answer = httpx.post(server.url + "/v1/pages:extract", files={"file": ("page.jpg", path.read_bytes(), "image/jpeg")},
                        data={"book": "khai_sinh"}, timeout=120)
    assert answer.status_code == 200, answer.text
    models = answer.json()["page"]["models"]
    assert models["second_opinion"]["name"] == Path(other_tiny_onnx_model).name and models["second_opinion"]["version"]
    assert models["second_opinion"]["view_shift_px"] == 2
    assert answer.json()["page"]["entries"]


def test_the_pipeline_reads_headings_with_a_print_reader_only_where_asked_or_released(tiny_onnx_model,
                                                                                    other_tiny_onnx_model):
    from inference.pages import PagePipeline

    printed = PagePipeline.from_dirs(None, tiny_onnx_model, 1, heading_recognizer=other_tiny_onnx_model)
    assert printed.heading_recognizer.directory == Path(other_tiny_onnx_model)
    assert printed.recognizer.directory == Path(tiny_onnx_model) and printed.field_recognizer is None
    # A recognizer of one's own is not paired with the released print reader, chosen beside the released one.
    assert PagePipeline.from_dirs(None, tiny_onnx_model, 1).heading_recognizer is None
    with pytest.raises(ValueError, match="one recognizer"):
        PagePipeline.from_dirs(None, tiny_onnx_model, 1, heading_recognizer=other_tiny_onnx_model,
                               single_recognizer=True)


def test_the_pages_endpoint_reports_the_print_reader_it_read_headings_with(server_factory, tiny_onnx_model,
                                                                           other_tiny_onnx_model, tmp_path):
    import httpx

    from data.pages.render import render_page

    image, _ = render_page("khai_tu", seed=43, long_side=1000)
    path = tmp_path / "page.jpg"
    image.save(path, quality=90)
    server = server_factory("--model", tiny_onnx_model, "--pages-single-model")
    alone = httpx.post(server.url + "/v1/pages:extract", files={"file": ("page.jpg", path.read_bytes(), "image/jpeg")},
                       timeout=120)
    assert alone.status_code == 200, alone.text
    assert "print_reader" not in alone.json()["page"]["models"]
    server = server_factory("--model", tiny_onnx_model, "--pages-heading-model", other_tiny_onnx_model)
    answer = httpx.post(server.url + "/v1/pages:extract", files={"file": ("page.jpg", path.read_bytes(), "image/jpeg")},
                        timeout=120)
    assert answer.status_code == 200, answer.text
    models = answer.json()["page"]["models"]
    assert models["print_reader"]["name"] == Path(other_tiny_onnx_model).name and models["print_reader"]["version"]
    assert "second_opinion" not in models


def test_extract_refuses_a_second_model_with_single_model(tmp_path, tiny_onnx_model, other_tiny_onnx_model):
    image = Image.new("RGB", (200, 100), "white")
    image.save(tmp_path / "p.png")
    done = subprocess.run([sys.executable, "-m", "hotich", "extract", str(tmp_path / "p.png"), "--out",
                           str(tmp_path / "out"), "--model", tiny_onnx_model, "--second-model",
                           other_tiny_onnx_model, "--single-model"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0 and "one recognizer" in done.stderr
    assert not (tmp_path / "out" / "pages").exists() or not any((tmp_path / "out" / "pages").iterdir())


class _Reading:
    """Reads every line as one text, and counts the lines."""

    def __init__(self, text: str):
        self.text, self.lines = text, 0

    def recognize(self, images, batch_size: int = 32, **options):
        from types import SimpleNamespace

        self.lines += len(images)
        return [SimpleNamespace(text=self.text, confidence=0.9) for _ in images]


def test_field_lines_go_to_the_field_recognizer_and_printed_lines_to_the_other():
    from data.pages.render import render_page
    from inference.layout import LayoutPredictor
    from inference.pages import PagePipeline, default_detector_dir

    image, _ = render_page("khai_sinh", seed=42, long_side=1200)
    printed, handwritten = _Reading("Họ tên"), _Reading("Nguyễn Văn An")
    result = PagePipeline(LayoutPredictor(default_detector_dir(), intra_op_threads=1), printed,
                          field_recognizer=handwritten)(image, book="khai_sinh")
    assert printed.lines and handwritten.lines
    heading_words = {w for h in result["page"]["headings"] for w in h["text"].split()}
    field_words = {w for e in result["page"]["entries"] for f in e["fields"] for line in f["lines"]
                   for w in line["text"].split()}
    assert heading_words == {"Họ", "tên"} and field_words == {"Nguyễn", "Văn", "An"}


def test_one_name_read_two_ways_gives_every_word_by_word_choice_in_each_cells_case():
    from inference.pages import name_readings

    assert set(name_readings("Cao Văn Nhận", "Cải Văn Nhân")) == {
        ("Cao Văn Nhận", "Cao Văn Nhận"), ("Cao Văn Nhân", "Cao Văn Nhân"),
        ("Cải Văn Nhận", "Cải Văn Nhận"), ("Cải Văn Nhân", "Cải Văn Nhân")}
    # One cell in capitals: each keeps its own case.
    assert set(name_readings("NGUYỄN THỊ MƠ", "Nguyễn Thị Mơi")) == {
        ("NGUYỄN THỊ MƠ", "Nguyễn Thị Mơ"), ("NGUYỄN THỊ MƠI", "Nguyễn Thị Mơi")}
    assert name_readings("Phạm Văn Tâm,", "Phạm Văn Tâm") == []  # a comma is no other name
    # A name on two lines is scored line by line: each line takes as many words as it read.
    from inference.pages import _share_words
    assert _share_words("Cao Văn Nhân", [2, 1]) == ["Cao Văn", "Nhân"]
    # The same name (case and tone placement aside), another number of words, words too unlike (two
    # people: a relationship misread), or too many words apart: nothing to choose.
    for a, b in (("Lê Thị Thuỷ", "LÊ THỊ THỦY"), ("Hồ Đình Hải", "Mẹ Hồ Đình Hải"), ("Nguyễn Văn An", "Nguyễn Văn Bình"),
                 ("Lưu Văn Đức Anh", "Lữ Vân Đúc Ánh")):
        assert name_readings(a, b) == []


def test_a_declarant_who_is_the_father_is_read_as_one_name_on_both_cells(members):
    from inference.ensemble import text_log_probs
    from inference.pages import PagePipeline, name_readings
    from inference.records.matching import fold
    from models.detection.layout import Region

    first, _ = members
    pipeline = PagePipeline(None, first, deskew=False)
    boxes = {"nycQuanHe": (10, 110, 90, 130), "nycHoTen": (100, 110, 300, 130), "chaHoTen": (310, 110, 510, 130)}
    texts = {110: {10: "cha", 100: "Lê Văn Nhận", 310: "Lý Văn Nhân"},  # within the tiny model's 11 tokens
             # the second entry's declarant on two lines of its cell
             210: {10: "Bố", 100: "Lê Văn", 310: "Lý Văn Nhân"}, 240: {100: "Nhận"}}
    second = [("nycQuanHe", (10, 210, 90, 230)), ("nycHoTen", (100, 210, 300, 230)),
              ("nycHoTen", (100, 240, 300, 260)), ("chaHoTen", (310, 210, 510, 230))]
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0), Region("entry", (0, 200, 600, 290), 1.0)],
               "field": [Region("field", box, 1.0, key, 0.9) for key, box in [*boxes.items(), *second]],
               "line": []}
    pipeline.detect = lambda page: (regions, page, np.array([[1.0, 0, 0], [0, 1.0, 0]]), 0.0)
    pipeline.heading_cells = lambda work, found: []

    def read(work, lines, **options):
        for line in lines:
            line.text, line.confidence = texts[int(line.bbox[1])][int(line.bbox[0])], 0.5

    pipeline.recognize_lines = read
    image = Image.new("RGB", (600, 300), "white")
    ImageDraw.Draw(image).line((120, 118, 280, 122), fill="black", width=2)
    record, two_lines = pipeline(image, book="khai_sinh")["records"]
    got = {f["key"]: f for f in record["fields"]}
    from data.pages.lines import crop_line
    crops = [np.asarray(crop_line(image, boxes[k]).convert("RGB")) for k in ("nycHoTen", "chaHoTen")]
    readings = name_readings("Lê Văn Nhận", "Lý Văn Nhân")
    best = readings[int(text_log_probs(first, crops, [list(r) for r in readings]).sum(axis=1).argmax())]
    assert (got["nycHoTen"]["text"], got["chaHoTen"]["text"]) == best
    assert "declarant_mismatch" not in record["flags"]
    for key, read_as in (("nycHoTen", "Lê Văn Nhận"), ("chaHoTen", "Lý Văn Nhân")):
        if got[key]["text"] != read_as:
            assert got[key]["read_text"] == read_as and "name_read_jointly" in got[key]["flags"]
        else:
            assert "read_text" not in got[key]
    # The same name, its declarant on two lines: the two lines together read as the father's line does.
    got = {f["key"]: f for f in two_lines["fields"]}
    assert fold(got["nycHoTen"]["text"]) == fold(got["chaHoTen"]["text"])
    assert "declarant_mismatch" not in two_lines["flags"]



def test_readings_of_several_lines_score_as_each_line_alone(members):
    from inference.ensemble import reading_log_probs, text_log_probs

    first, _ = members
    crops = _lines(3)
    readings = [(0, "An"), (2, "Bình"), (0, "Anh"), (1, "")]
    together = reading_log_probs(first, crops, readings)
    alone = [text_log_probs(first, [crops[j]], [[text]])[0, 0] for j, text in readings]
    np.testing.assert_allclose(together, alone, rtol=1e-4)
    assert reading_log_probs(first, crops, []).shape == (0,)
    with pytest.raises(ValueError, match="out of range"):
        reading_log_probs(first, crops, [(3, "An")])
