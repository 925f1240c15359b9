"""The annotation library without a Label Studio: configs, task conversions, the job queue, page files, the
launcher's environment. (tests/test_annotation_labelstudio.py runs the loop against a real server.)"""
import json
import os
import stat
import threading
import unicodedata

import numpy as np
import pytest
from PIL import Image

from annotation.configs import LINE, PAGE, ConfigError, field_keys, line_config, page_config, parse_config
from annotation.jobs import DONE, PENDING, RUNNING, JobQueue
from annotation.pages import Page, PageField, PageFormatError, find_pages, read_page_json, write_page_json
from annotation.predictors import PredictionsFile
from annotation.tasks import ResultProblem, clean_text, fields_of, line_result, page_result, text_of, winning_annotation
from data.schema import BOOKS


def test_line_config_names():
    names = parse_config(line_config())
    assert (names.kind, names.image, names.image_key, names.text) == (LINE, "image", "image", "text")


def test_page_config_labels_are_handwritten_field_keys():
    names = parse_config(page_config("khai_sinh"))
    assert names.kind == PAGE and names.labels == "field"
    expected = [f.key for f in BOOKS["khai_sinh"] if not f.import_only]
    assert list(names.label_values) == expected == field_keys("khai_sinh")
    everything = field_keys()
    assert len(everything) == len(set(everything)) and set(expected) < set(everything)


def test_parse_config_follows_renamed_tags_and_rejects_unusable_ones():
    renamed = '<View><Image name="crop" value="$img"/><TextArea name="t" toName="crop"/></View>'
    names = parse_config(renamed)
    assert (names.image, names.image_key, names.text) == ("crop", "img", "t")
    for bad, why in [("<View", "not valid XML"), ("<View><TextArea name='t' toName='x'/></View>", "no <Image"),
                     ('<View><Image name="i" value="$i"/></View>', "no <TextArea"),
                     (('<View><Image name="i" value="$i"/><RectangleLabels name="r" toName="i"/>'
                       '<TextArea name="t" toName="i"/></View>'), "perRegion")]:
        with pytest.raises(ConfigError, match=why):
            parse_config(bad)


def test_line_text_round_trip_is_nfc_and_one_line():
    names = parse_config(line_config())
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Hoà")
    assert text_of(names, line_result(names, decomposed)) == unicodedata.normalize("NFC", "Nguyễn Thị Hoà")
    assert clean_text("  Xã Thạch\nKhôi \n") == "Xã Thạch Khôi"
    with pytest.raises(ResultProblem, match="no text"):
        text_of(names, [])
    with pytest.raises(ResultProblem, match="empty text"):
        text_of(names, line_result(names, " \n "))
    two = line_result(names, "a") + line_result(names, "b")
    with pytest.raises(ResultProblem, match="2 texts"):
        text_of(names, two)


def test_page_regions_round_trip_in_pixels(tmp_path):
    names = parse_config(page_config())
    page = Page(tmp_path / "p.png", 1000, 700, [
        PageField("nksHoTen", (100, 50, 400, 90), "Lê Thị Ánh", 0.8, extra={"entry": 3}),
        PageField("meHoTen", (100.5, 95.25, 401, 130), "", 0.4),
        PageField("so", (10, 10, 60, 40), "125/2008", rotation=2.5)])
    result = page_result(names, page)
    assert [r["type"] for r in result] == ["rectanglelabels", "textarea", "rectanglelabels", "rectanglelabels",
                                           "textarea"]
    back = fields_of(names, result, 1000, 700, {"f0": {"entry": 3}})
    assert [(f.key, f.text, f.rotation, f.extra) for f in back] == [
        ("nksHoTen", "Lê Thị Ánh", 0.0, {"entry": 3}), ("meHoTen", "", 0.0, {}), ("so", "125/2008", 2.5, {})]
    for original, restored in zip(page.fields, back):
        assert np.allclose(original.box, restored.box, atol=1e-9)
    bad = [dict(result[0], value={**result[0]["value"], "rectanglelabels": []})]
    with pytest.raises(ResultProblem, match="0 labels"):
        fields_of(names, bad, 1000, 700)


def test_winning_annotation_latest_completed_not_skipped():
    def ann(i, updated, cancelled=False, result=True):
        return {"id": i, "updated_at": updated, "created_at": updated, "was_cancelled": cancelled,
                "result": [{"x": 1}] if result else []}

    task = {"annotations": [ann(1, "2026-01-01T10:00:00.5Z"), ann(2, "2026-01-01T10:00:01Z"),
                            ann(3, "2026-01-01T11:00:00Z", cancelled=True),
                            ann(4, "2026-01-01T12:00:00Z", result=False)]}
    # 2 is later than 1 although its timestamp has no fraction (a string comparison would get this wrong).
    assert winning_annotation(task)["id"] == 2
    assert winning_annotation({"annotations": [ann(5, "2026-01-01T10:00:00Z", cancelled=True)]}) is None
    assert winning_annotation({"annotations": []}) is None


def test_job_queue_deduplicates_and_survives_reopening(tmp_path):
    queue = JobQueue(tmp_path)
    first, created = queue.enqueue(7, "ANNOTATION_CREATED", {"last_annotation": 1})
    assert created and first.status == PENDING and first.events == 1
    again, created = queue.enqueue("7", "ANNOTATION_UPDATED", {"last_annotation": 2})
    assert not created and again.id == first.id and again.events == 2 and again.payload["last_annotation"] == 2
    other, created = queue.enqueue(8, "START_TRAINING")
    assert created and other.id != first.id
    queue.close()

    reopened = JobQueue(tmp_path)  # a restarted server
    assert [(j.project, j.status, j.events) for j in reopened.list()] == [("7", PENDING, 2), ("8", PENDING, 1)]
    claimed = reopened.claim()
    assert claimed.id == first.id and claimed.status == RUNNING
    # A running job does not absorb new events: they open the next job.
    follow_up, created = reopened.enqueue(7, "ANNOTATION_CREATED")
    assert created and follow_up.id not in (first.id, other.id)
    done = reopened.finish(claimed.id, {"promoted": False, "cer": 0.1})
    assert done.status == DONE and done.result == {"promoted": False, "cer": 0.1}
    with pytest.raises(ValueError, match="not running"):
        reopened.finish(claimed.id)
    assert [j.id for j in reopened.list(status=PENDING)] == [other.id, follow_up.id]


def test_job_queue_concurrent_events_make_one_job(tmp_path):
    queue = JobQueue(tmp_path)

    def burst():
        for _ in range(20):
            queue.enqueue(1, "ANNOTATION_CREATED")

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (job,) = queue.list()
    assert job.events == 80


def test_job_queue_requeues_jobs_of_dead_workers(tmp_path):
    queue = JobQueue(tmp_path)
    job, _ = queue.enqueue(1, "START_TRAINING")
    queue.claim()
    assert queue.requeue_stale(older_than_s=3600) == []
    assert queue.requeue_stale(older_than_s=-1) == [job.id]
    assert queue.get(job.id).status == PENDING


def _png(path, size=(40, 20), value=128):
    Image.new("RGB", size, (value, value, value)).save(path)
    return path


def test_page_files_round_trip_and_errors(tmp_path):
    _png(tmp_path / "p1.png", (300, 200))
    page = {"image": "p1.png", "width": 300, "height": 200, "book": "khai_sinh", "model_version": "m", "scan": "A3",
            "fields": [{"key": "nksHoTen", "box": [10, 20, 110, 40], "text": "Phạm Văn Đức", "score": 0.5,
                        "entry": 0}]}
    (tmp_path / "p1.json").write_text(json.dumps(page, ensure_ascii=False), encoding="utf-8")
    _png(tmp_path / "p2.png", (100, 80))  # no JSON: a page to annotate from scratch
    pages = find_pages(tmp_path)
    assert [(p.image.name, len(p.fields), p.confidence) for p in pages] == [("p1.png", 1, 0.5), ("p2.png", 0, None)]
    write_page_json(pages[0], tmp_path / "out" / "p1.json")
    assert json.loads((tmp_path / "out" / "p1.json").read_text(encoding="utf-8")) == page

    page["fields"][0]["box"] = [10, 20, 400, 40]
    (tmp_path / "p1.json").write_text(json.dumps(page), encoding="utf-8")
    with pytest.raises(PageFormatError, match="outside the 300x200 image"):
        read_page_json(tmp_path / "p1.json")
    with pytest.raises(PageFormatError, match="no page images"):
        find_pages(tmp_path / "out")


def test_page_truth_files_are_read(tmp_path):
    truth_module = pytest.importorskip("data.pages.truth")
    region = truth_module.Region.from_box
    line = truth_module.TextLine
    name = truth_module.FieldTruth("nksHoTen", "Hoàng Văn Nam", [region(10, 10, 90, 30), region(10, 40, 90, 60)],
                                   [line("Hoàng Văn", region(12, 12, 80, 28), "nksHoTen", 0, box=0),
                                    line("Nam", region(12, 42, 40, 58), "nksHoTen", 0, box=1)], entry=0)
    entry = truth_module.EntryTruth(0, region(0, 0, 100, 70), False, {"nksHoTen": "Hoàng Văn Nam"}, [name])
    truth = truth_module.PageTruth("khai_sinh", "ks-a", "train", "train", 7, 100, 70, [entry])
    _png(tmp_path / "page.png", (100, 70))
    (tmp_path / "page.json").write_text(truth.to_json(), encoding="utf-8")
    (page,) = find_pages(tmp_path)
    assert page.book == "khai_sinh" and page.model_version == "ground-truth"
    assert [(f.key, f.text, f.box, f.extra) for f in page.fields] == [
        ("nksHoTen", "Hoàng Văn", (10, 10, 90, 30), {"entry": 0}), ("nksHoTen", "Nam", (10, 40, 90, 60), {"entry": 0})]


def test_predictions_file(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"image": "a.png", "hypothesis": unicodedata.normalize("NFD", "Bùi"), "confidence": 0.4})
                    + "\n" + json.dumps({"image": "/x/b.png", "text": "B", "model_version": "v2"}) + "\n",
                    encoding="utf-8")
    predictions = PredictionsFile(path, "v1")
    assert predictions.lookup(tmp_path / "a.png") == ("Bùi", 0.4, "v1")
    assert predictions.lookup("/x/b.png") == ("B", None, "v2")
    assert predictions.lookup(tmp_path / "c.png") is None
    path.write_text('{"image": "a.png"}\n')
    with pytest.raises(ValueError, match=r"p.jsonl:1: needs string 'image' and 'hypothesis'"):
        PredictionsFile(path)


def test_labelstudio_environment_and_credentials(tmp_path, monkeypatch):
    from annotation.labelstudio_server import labelstudio_env, load_credentials

    monkeypatch.delenv("HOTICH_LS_TOKEN", raising=False)
    creds = load_credentials(tmp_path)
    assert len(creds.token) == 40 and creds.username == "admin@hotich.local"
    assert stat.S_IMODE(os.stat(tmp_path / "hotich-credentials.json").st_mode) == 0o600
    assert load_credentials(tmp_path) == creds  # stable across starts
    base = {"HOST": "0.0.0.0", "PORT": "9", "USERNAME": "someone", "PASSWORD": "x", "LABEL_STUDIO_HOST": "h",
            "HEARTEX_PORT": "1", "PATH": "/bin"}
    env = labelstudio_env(tmp_path, creds, base)
    assert not {"HOST", "PORT", "USERNAME", "PASSWORD", "LABEL_STUDIO_HOST", "HEARTEX_PORT"} & set(env)
    assert env["PATH"] == "/bin" and env["LABEL_STUDIO_USERNAME"] == creds.username
    assert env["LABEL_STUDIO_USER_TOKEN"] == creds.token and env["LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN"] == "true"
    assert env["SENTRY_DSN"] == env["FRONTEND_SENTRY_DSN"] == "" and env["COLLECT_ANALYTICS"] == "false"
    assert env["ML_BLOCK_LOCAL_IP"] == "false" and "127.0.0.0/8" not in env["USER_ADDITIONAL_BANNED_SUBNETS"]
    assert "10.0.0.0/8" in env["USER_ADDITIONAL_BANNED_SUBNETS"]


def test_cli_errors_are_clear(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT, free_port

    def run(*args):
        return subprocess.run([sys.executable, "-m", "hotich", "annotate", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=60, check=False)

    down = f"http://127.0.0.1:{free_port()}"
    result = run("pull", "--project", "lines", "--out", str(tmp_path / "o"), "--url", down, "--token", "t" * 40)
    assert result.returncode == 1
    assert "cannot reach Label Studio" in result.stderr and "make labelstudio" in result.stderr
    result = run("push", str(tmp_path / "missing.jsonl"), "--project", "lines", "--url", down, "--token", "t" * 40,
                 "--no-predictions")
    assert result.returncode == 2 and "no such line manifest or page folder" in result.stderr
    _png(tmp_path / "p.png", (100, 50))
    (tmp_path / "p.json").write_text(json.dumps({"fields": [{"key": "notAField", "box": [1, 1, 9, 9]}]}))
    result = run("push", str(tmp_path), "--project", "pages", "--url", down, "--token", "t" * 40)
    assert result.returncode == 2 and "['notAField'] are not handwritten fields" in result.stderr
