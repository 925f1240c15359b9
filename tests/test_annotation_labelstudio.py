"""The Label Studio loop against a real Label Studio 1.23 (from .venv-ls) on 127.0.0.1: push with
pre-annotations, annotate through its API, pull; and the ML backend on a real `hotich serve`, connected through
Label Studio's own API."""
import base64
import io
import json
import subprocess
import sys
import unicodedata

import httpx
import numpy as np
import pytest
from conftest import ROOT, RunningServer
from PIL import Image

from annotation.configs import page_config, parse_config
from annotation.jobs import JobQueue
from annotation.predictors import PredictionsFile
from annotation.sync import pull, push_lines, push_pages
from annotation.tasks import line_result
from data.charset import nfc
from data.manifest import read_manifest

# (reference text, model's guess, confidence); the guesses miss Vietnamese marks the way a weak model does.
LINES = [("Nguyễn Thị Huệ", "Nguyen Thi Hue", 0.31), ("Xã Thạch Khôi, Gia Lộc", "Xã Thạch Khôi, Gia Lộc", 0.97),
         ("Trần Văn Đức", "Tran Van Duc", 0.12), ("ngày 12 tháng 3 năm 1998", "ngày 12 tháng 3 năm 1998", 0.88),
         ("Phạm Thị Ngọc Ánh", "Pham Thi Ngoc Anh", 0.45), ("Lê Hoàng Yến", "Lê Hoàng Yến", 0.93)]


def _line_image(i: int) -> Image.Image:
    rng = np.random.default_rng(i)
    return Image.fromarray(rng.integers(0, 255, (32, 90 + 7 * i, 3), dtype=np.uint8))


@pytest.fixture
def line_data(tmp_path):
    """A manifest of 6 lines (one image name shared by two folders) and the model's predictions for them."""
    records, predictions = [], []
    for i, (text, guess, score) in enumerate(LINES):
        folder = tmp_path / ("a" if i < 3 else "b")
        folder.mkdir(exist_ok=True)
        name = "line.png" if i in (0, 3) else f"line{i}.png"
        _line_image(i).save(folder / name)
        records.append({"image": f"{folder.name}/{name}", "text": text, "source": "synth", "book": "khai_sinh",
                        "field": "nksHoTen", "writer": f"w{i % 2}", "note": {"tờ": i, "flags": ["ẩn", None]}})
        predictions.append({"image": f"{folder.name}/{name}", "hypothesis": guess, "confidence": score})
    manifest = tmp_path / "lines.jsonl"
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    (tmp_path / "predictions.jsonl").write_text(
        "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions), encoding="utf-8")
    return manifest, tmp_path / "predictions.jsonl", records


def test_lines_push_annotate_pull_round_trip(ls_client, line_data, tmp_path):
    manifest, predictions_path, _ = line_data
    report = push_lines(ls_client, manifest, "lines round trip", predictions=PredictionsFile(predictions_path, "rec@1"),
                        progress=False)
    assert (report.created, report.new_tasks, report.predictions, report.model_version) == (True, 6, 6, "rec@1")
    project = ls_client.find_project("lines round trip")
    names = parse_config(project["label_config"])
    assert project["model_version"] == "rec@1" and project["sampling"] == "Uncertainty sampling"
    assert project["show_collab_predictions"] is True

    by_text = {t["data"]["hotich"]["text"]: t for t in ls_client.tasks(project["id"])}
    # Most uncertain first: task ids follow the scores, and Label Studio's own stream serves the lowest first.
    ordered = sorted(by_text.values(), key=lambda t: t["id"])
    assert [t["data"]["hotich"]["text"] for t in ordered] == [t for t, _, _ in sorted(LINES, key=lambda x: x[2])]
    assert ls_client.next_task(project["id"])["id"] == by_text["Trần Văn Đức"]["id"]
    full = ls_client.task(by_text["Nguyễn Thị Huệ"]["id"])
    (prediction,) = full["predictions"]
    assert prediction["model_version"] == "rec@1" and prediction["score"] == pytest.approx(0.31)
    assert prediction["result"][0]["value"]["text"] == ["Nguyen Thi Hue"]

    # An annotator: restores the marks (typed decomposed, as some Vietnamese keyboards do), accepts a correct
    # guess, skips one line, corrects one line twice (the later annotation wins), and leaves two alone.
    def annotate(text_key, text=None, skip=False):
        task_id = by_text[text_key]["id"]
        result = [] if skip else line_result(names, text)
        return ls_client.create_annotation(task_id, result, was_cancelled=skip, lead_time=4.2)

    annotate("Nguyễn Thị Huệ", unicodedata.normalize("NFD", "Nguyễn Thị Huệ"))
    annotate("Xã Thạch Khôi, Gia Lộc", "Xã Thạch Khôi, Gia Lộc")
    annotate("Trần Văn Đức", skip=True)
    first = annotate("Phạm Thị Ngọc Ánh", "Phạm Thị Ngọc Anh")
    annotate("Phạm Thị Ngọc Ánh", "Phạm Thị Ngọc Ánh")
    assert ls_client.next_task(project["id"])["id"] in {by_text["ngày 12 tháng 3 năm 1998"]["id"],
                                                        by_text["Lê Hoàng Yến"]["id"]}

    out = tmp_path / "pulled"
    result = subprocess.run([sys.executable, "-m", "hotich", "annotate", "pull", "--project", "lines round trip",
                             "--out", str(out), "--url", ls_client.url, "--token", _token(ls_client)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["pulled"], summary["skipped"], summary["unannotated"], summary["problems"]) == (3, 1, 2, 0)

    pulled = read_manifest(out / "manifest.jsonl", check_images=True)
    source = {r.text: r for r in read_manifest(manifest)}
    assert [r.text for r in pulled] == ["Nguyễn Thị Huệ", "Phạm Thị Ngọc Ánh", "Xã Thạch Khôi, Gia Lộc"]
    for record in pulled:
        assert record.text == nfc(record.text)
        original = source[record.text]
        origin = record.extra.pop("labelstudio")
        assert record.extra == original.extra  # every manifest key, nested and Vietnamese, unchanged
        assert record.image.read_bytes() == original.image.read_bytes()  # the very bytes pushed
        assert origin["project"] == project["id"] and origin["model_version"] == "rec@1"
        assert origin["lead_time"] == pytest.approx(4.2)
    latest = next(r for r in read_manifest(out / "manifest.jsonl") if r.text == "Phạm Thị Ngọc Ánh")
    assert latest.extra["labelstudio"]["annotation"] != first["id"]
    assert latest.extra["labelstudio"]["prediction"] == "Pham Thi Ngoc Anh"
    # Two pushed lines share the file name line.png: the pulled one is named apart by its content key.
    images = sorted(p.name for p in (out / "images").iterdir())
    assert images[1:] == ["line1.png", "line4.png"] and images[0].startswith("line-") and len(images[0]) == 19

    # Pushing the same manifest again duplicates nothing.
    again = push_lines(ls_client, manifest, "lines round trip", progress=False)
    assert (again.created, again.new_tasks, again.existing_tasks) == (False, 0, 6)
    assert len(list(ls_client.tasks(project["id"]))) == 6


def _token(client) -> str:
    return client.http.headers["Authorization"].removeprefix("Token ")


def test_lines_repush_with_a_new_model_refreshes_unannotated_predictions(ls_client, line_data, tiny_onnx_model):
    from annotation.predictors import RecognizerPredictor

    manifest, predictions_path, _ = line_data
    push_lines(ls_client, manifest, "lines new model", predictions=PredictionsFile(predictions_path, "old@1"),
               progress=False)
    project = ls_client.find_project("lines new model")
    names = parse_config(project["label_config"])
    annotated = next(iter(ls_client.tasks(project["id"])))
    ls_client.create_annotation(annotated["id"], line_result(names, "Đã sửa"))

    predictor = RecognizerPredictor(tiny_onnx_model, batch_size=4)
    report = push_lines(ls_client, manifest, "lines new model", predictor=predictor, progress=False)
    assert (report.new_tasks, report.refreshed_predictions) == (0, 5)
    assert ls_client.project(project["id"])["model_version"] == predictor.model_version
    for task in ls_client.tasks(project["id"]):
        versions = {p["model_version"] for p in ls_client.task(task["id"])["predictions"]}
        assert versions == ({"old@1"} if task["id"] == annotated["id"] else {"old@1", predictor.model_version})


def test_pages_push_annotate_pull(ls_client, tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    fields = [{"key": "so", "box": [40, 30, 120, 60], "text": "125/2008", "score": 0.9},
              {"key": "nksHoTen", "box": [150, 30, 520, 62], "text": "Nguyen Van An", "score": 0.35, "entry": 0},
              {"key": "meHoTen", "box": [150, 80, 500, 110], "text": "Đỗ Thị Thu Hằng", "score": 0.7, "entry": 0}]
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 600, 3), dtype=np.uint8)).save(folder / "p1.png")
    (folder / "p1.json").write_text(json.dumps({"image": "p1.png", "width": 600, "height": 300, "book": "khai_sinh",
                                                "model_version": "layout@1", "scan": {"dpi": 300},
                                                "fields": fields}, ensure_ascii=False), encoding="utf-8")
    Image.new("RGB", (400, 300), "white").save(folder / "p2.jpg")  # nothing predicted yet
    report = push_pages(ls_client, folder, "pages khai sinh", progress=False)
    assert (report.new_tasks, report.predictions, report.without_prediction, report.model_version) == \
        (2, 1, 1, "layout@1")
    project = ls_client.find_project("pages khai sinh")
    names = parse_config(project["label_config"])
    assert names.kind == "page" and set(names.label_values) == set(parse_config(page_config("khai_sinh")).label_values)
    tasks = sorted(ls_client.tasks(project["id"]), key=lambda t: t["id"])
    assert [t["data"]["hotich"]["name"] for t in tasks] == ["p1.png", "p2.jpg"]  # scored page first

    # The annotator keeps the prediction, fixes one name (marks restored) and submits.
    (prediction,) = ls_client.task(tasks[0]["id"])["predictions"]
    result = json.loads(json.dumps(prediction["result"]))
    for item in result:
        if item["type"] == "textarea" and item["value"]["text"] == ["Nguyen Van An"]:
            item["value"]["text"] = [unicodedata.normalize("NFD", "Nguyễn Văn An")]
    ls_client.create_annotation(tasks[0]["id"], result)
    ls_client.create_annotation(tasks[1]["id"], [], was_cancelled=True)

    out = tmp_path / "pulled"
    summary = pull(ls_client, "pages khai sinh", out, progress=False)
    assert (summary.pulled, summary.skipped, summary.problems) == (1, 1, [])
    page = json.loads((out / "pages" / "p1.json").read_text(encoding="utf-8"))
    assert (out / "pages" / "p1.png").read_bytes() == (folder / "p1.png").read_bytes()
    origin = page.pop("labelstudio")
    assert origin["model_version"] == "layout@1"
    expected = [dict(f) for f in fields]
    expected[1]["text"] = nfc("Nguyễn Văn An")
    for f in expected:
        f.pop("score")  # a confidence belongs to the prediction, not to the corrected page
    assert page == {"image": "p1.png", "width": 600, "height": 300, "book": "khai_sinh", "scan": {"dpi": 300},
                    "fields": expected}
    crops = read_manifest(out / "fields" / "manifest.jsonl", check_images=True)
    assert [(c.text, c.extra["field"]) for c in crops] == [(f["text"], f["key"]) for f in expected]
    assert Image.open(crops[1].image).size == (370, 32)


def _png_bytes(width=80, height=32, value=90) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (value, value, value)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_ml_backend_through_labelstudio_and_webhook_queue(ls_client, line_data, tiny_onnx_model, tmp_path):
    manifest, _, _ = line_data
    jobs_dir = tmp_path / "jobs"
    server = RunningServer(["--model", tiny_onnx_model, "--ml-backend", "--jobs-dir", str(jobs_dir)])
    try:
        backend_url = server.url + "/labelstudio"
        health = httpx.get(backend_url + "/health").json()
        assert health["status"] == "UP"
        version = health["model_version"]
        assert version.startswith("onnx@") and len(version) == len("onnx@") + 12

        push_lines(ls_client, manifest, "ml backend lines", progress=False)  # no pre-annotations
        project = ls_client.find_project("ml backend lines")
        names = parse_config(project["label_config"])
        result = subprocess.run([sys.executable, "-m", "hotich", "annotate", "connect", "--project", "ml backend lines",
                                 "--backend", backend_url, "--url", ls_client.url, "--token", _token(ls_client)],
                                cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        connected = json.loads(result.stdout)
        (backend,) = ls_client.ml_backends(project["id"])
        assert backend["id"] == connected["ml_backend"] and backend["state"] == "CO"  # health + setup passed
        assert ls_client.project(project["id"])["evaluate_predictions_automatically"] is True
        # Label Studio registered the backend's webhook for all actions.
        assert any(w["url"] == backend_url + "/webhook" for w in ls_client.webhooks(project["id"]))

        # Predictions fetched by Label Studio from our /predict, images fetched back from Label Studio.
        ls_client.retrieve_predictions(project["id"])
        tasks = list(ls_client.tasks(project["id"]))
        for task in tasks:
            (prediction,) = ls_client.task(task["id"])["predictions"]
            assert prediction["model_version"] == version
            assert 0.0 <= prediction["score"] <= 1.0
            (item,) = prediction["result"]
            assert (item["from_name"], item["to_name"], item["type"]) == (names.text, names.image, "textarea")
            assert isinstance(item["value"]["text"][0], str)

        # Annotations in Label Studio reach /webhook and queue exactly one retraining job.
        ls_client.create_annotation(tasks[0]["id"], line_result(names, "Nguyễn Thị Huệ"))
        ls_client.create_annotation(tasks[1]["id"], line_result(names, "Trần Văn Đức"))
        httpx.post(f"{ls_client.url}/api/ml/{backend['id']}/train", headers=ls_client.http.headers).raise_for_status()
        (job,) = httpx.get(backend_url + "/jobs").json()["jobs"]
        assert (job["project"], job["status"], job["reason"]) == (str(project["id"]), "pending", "ANNOTATION_CREATED")
        assert job["events"] == 3 and job["payload"]["last_action"] == "START_TRAINING"
        assert job["payload"]["labelstudio_url"].endswith(str(ls_client.url.rsplit(":", 1)[1]))
        assert "Nguyễn" not in json.dumps(job) and "Nguy" not in server.log()  # no ledger text in jobs or logs

        # Other events are acknowledged and ignored; bad bodies are named.
        ignored = httpx.post(backend_url + "/webhook", json={"action": "PROJECT_UPDATED", "project": {"id": 1}})
        assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
        assert httpx.post(backend_url + "/webhook", content=b"{not json").status_code == 400
        assert httpx.post(backend_url + "/webhook", json={"action": "ANNOTATION_CREATED"}).status_code == 400

        # A page task, interactive: text for the region the annotator just drew (the image as a data URI).
        page_names = parse_config(page_config("khai_sinh"))
        region = {"id": "r1", "type": "rectanglelabels", "from_name": "field", "to_name": "image",
                  "value": {"x": 10, "y": 20, "width": 50, "height": 30, "rotation": 0,
                            "rectanglelabels": ["nksHoTen"]}}
        uri = "data:image/png;base64," + base64.b64encode(_png_bytes(300, 100)).decode()
        answer = httpx.post(backend_url + "/predict", timeout=60, json={
            "tasks": [{"id": 1, "data": {"image": uri}}], "label_config": page_config("khai_sinh"),
            "params": {"context": {"result": [region]}}}).json()
        (page_prediction,) = answer["results"]
        (text_item,) = page_prediction["result"]
        assert (text_item["id"], text_item["from_name"], text_item["type"]) == ("r1", page_names.text, "textarea")
        # Images elsewhere than the project's Label Studio are not fetched.
        foreign = httpx.post(backend_url + "/predict", timeout=60, json={
            "tasks": [{"id": 2, "data": {"image": "http://example.invalid/x.png"}}], "label_config": names_config(),
            "project": f"{project['id']}.1700000000"})
        assert foreign.json()["results"] == [{"result": [], "model_version": version}]
    finally:
        server.stop()

    # A restart (now with an API key) finds the same pending job, and new events fold into it.
    restarted = RunningServer(["--model", tiny_onnx_model, "--ml-backend", "--jobs-dir", str(jobs_dir)],
                              env={"HOTICH_API_KEY": "s3cret"})
    try:
        url = restarted.url + "/labelstudio"
        assert httpx.get(url + "/jobs").status_code == 401
        auth = ("labelstudio", "s3cret")  # Label Studio's ML backend basic auth
        assert httpx.get(url + "/health", auth=auth).json()["status"] == "UP"
        event = {"action": "ANNOTATION_UPDATED", "project": {"id": project["id"], "title": "ml backend lines"}}
        merged = httpx.post(url + "/webhook", json=event, auth=auth).json()
        assert merged == {"status": "queued", "job": job["id"], "created": False, "events": 4}
    finally:
        restarted.stop()
    queue = JobQueue(jobs_dir)  # the worker's view of the same queue
    (pending,) = queue.list(status="pending")
    assert pending.id == job["id"] and pending.payload["project_title"] == "ml backend lines"
    claimed = queue.claim()
    assert claimed.id == job["id"] and queue.list(status="pending") == []


def names_config() -> str:
    from annotation.configs import line_config

    return line_config()


def test_configs_and_predictions_pass_label_studio_sdk_validation(labelstudio, tmp_path):
    """label-studio-sdk (in .venv-ls, with Label Studio) checks hotich's configs and prediction results."""
    from pathlib import Path

    from annotation.configs import line_config
    from annotation.pages import Page, PageField
    from annotation.tasks import Prediction, page_result

    line_names, page_names = parse_config(line_config()), parse_config(page_config("khai_tu"))
    page = Page(Path("p.png"), 800, 400, [PageField("nktHoTen", (10, 10, 300, 50), "Vũ Thị Lan", 0.6),
                                          PageField("nktNgayChet", (10, 60, 200, 90), "", 0.2, rotation=3.0)])
    cases = {"line": [line_config(), Prediction(line_result(line_names, "Ngô Quyền"), 0.4, "v@1").to_json()],
             "page": [page_config("khai_tu"), Prediction(page_result(page_names, page), 0.2, "v@1").to_json()],
             "control": [line_config(), {"model_version": "v", "result": [
                 {"from_name": "nope", "to_name": "image", "type": "textarea", "value": {"text": ["x"]}}]}]}
    (tmp_path / "cases.json").write_text(json.dumps(cases, ensure_ascii=False), encoding="utf-8")
    script = ("import json, sys\nfrom label_studio_sdk.label_interface import LabelInterface\n"
              "cases = json.load(open(sys.argv[1], encoding='utf-8'))\n"
              "print(json.dumps({k: LabelInterface(c).validate_prediction(p, return_errors=True) "
              "for k, (c, p) in cases.items()}))")
    result = subprocess.run([str(labelstudio.venv / "bin" / "python"), "-c", script, str(tmp_path / "cases.json")],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    errors = json.loads(result.stdout.strip().splitlines()[-1])
    assert errors["line"] == [] and errors["page"] == []
    assert errors["control"], "the validator must reject an unknown tag name"
