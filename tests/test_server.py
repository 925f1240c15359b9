"""The HTTP service over a real uvicorn on 127.0.0.1, serving a tiny exported recognizer."""
import asyncio
import base64
import io
import re
import struct
import zlib

import httpx
import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def onnx_model(tiny_onnx_model):
    return tiny_onnx_model


def png(width=120, height=32, value=200) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def shared_server(onnx_model):
    from conftest import RunningServer

    server = RunningServer(["--model", onnx_model])
    yield server
    server.stop()


def test_health_ready_models_and_openapi(shared_server):
    server = shared_server
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["status"] == "ready" and len(ready["model"]["version"]) == 12
    assert httpx.get(server.url + "/v1/models").json()["models"][0] == ready["model"]
    spec = httpx.get(server.url + "/openapi.json").json()
    assert {"/healthz", "/readyz", "/metrics", "/v1/models", "/v1/lines:recognize"} <= set(spec["paths"])
    assert "HOTICH_API_KEY is not set" in server.log()


def test_recognize_multipart_and_json_in_order(shared_server):
    server = shared_server
    images = [png(60), png(200, value=90), png(120, value=30)]
    files = [("files", (f"l{i}.png", data, "image/png")) for i, data in enumerate(images)]
    multipart = httpx.post(server.url + "/v1/lines:recognize", files=files, timeout=60)
    assert multipart.status_code == 200, multipart.text
    body = multipart.json()
    assert len(body["lines"]) == 3 and body["model"]["name"]
    for line in body["lines"]:
        assert 0.0 <= line["confidence"] <= 1.0
        assert "".join(c["c"] for c in line["chars"]) == line["text"]
    as_json = httpx.post(server.url + "/v1/lines:recognize", timeout=60,
                         json={"images": [base64.b64encode(d).decode() for d in images]})
    assert as_json.status_code == 200
    assert [l["text"] for l in as_json.json()["lines"]] == [l["text"] for l in body["lines"]]
    assert multipart.headers["x-request-id"]
    given = httpx.post(server.url + "/v1/lines:recognize", files=files[:1], timeout=60,
                       headers={"X-Request-Id": "pipeline-batch-17"})
    assert given.headers["x-request-id"] == "pipeline-batch-17"  # the caller's id comes back for its logs


@pytest.mark.parametrize("name, data, status, code", [
    ("empty.png", b"", 400, "empty_image"),
    ("notes.txt", "Nguyễn Văn A, sinh 1990".encode(), 415, "not_an_image"),
    ("cut.png", png()[:60], 400, "corrupt_image"),
    ("bomb.png", png_header_claiming(60000, 60000), 413, "decompression_bomb"),
    ("huge.png", png_header_claiming(5000, 4000), 413, "image_too_large"),
])
def test_bad_inputs_get_named_4xx_and_server_stays_healthy(shared_server, name, data, status, code):
    server = shared_server
    files = [("files", ("good.png", png(), "image/png")), ("files", (name, data, "application/octet-stream"))]
    response = httpx.post(server.url + "/v1/lines:recognize", files=files, timeout=60)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and (name in error["message"])
    assert "Nguyễn" not in server.log()  # nothing of the upload reaches the logs
    good = httpx.post(server.url + "/v1/lines:recognize", files=[("files", ("ok.png", png(), "image/png"))], timeout=60)
    assert good.status_code == 200
    assert httpx.get(server.url + "/readyz").status_code == 200


def test_request_limits(shared_server):
    server = shared_server
    too_many = [("files", (f"{i}.png", png(40), "image/png")) for i in range(65)]
    response = httpx.post(server.url + "/v1/lines:recognize", files=too_many, timeout=60)
    assert response.status_code in (400, 413) and response.json()["error"]["message"]
    for bad in ({"images": "x"}, {"images": [3]}, {"images": ["%%%"]}):
        assert httpx.post(server.url + "/v1/lines:recognize", json=bad).status_code == 400
    assert httpx.post(server.url + "/v1/lines:recognize", content=b"x",
                      headers={"content-type": "text/plain"}).status_code == 415


def test_api_key_on(server_factory, onnx_model):
    server = server_factory("--model", onnx_model, env={"HOTICH_API_KEY": "s3cret"})
    files = [("files", ("a.png", png(), "image/png"))]
    assert httpx.post(server.url + "/v1/lines:recognize", files=files).status_code == 401
    refused = httpx.post(server.url + "/v1/lines:recognize", files=files, headers={"X-API-Key": "nope"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert refused.headers["x-request-id"]
    assert httpx.post(server.url + "/v1/lines:recognize", files=files, headers={"Authorization": "Bearer s3cret"},
                      timeout=60).status_code == 200
    assert httpx.post(server.url + "/v1/lines:recognize", files=files, headers={"X-API-Key": "s3cret"},
                      timeout=60).status_code == 200
    assert httpx.get(server.url + "/healthz").status_code == 200  # probes stay open
    assert "HOTICH_API_KEY is not set" not in server.log()


def test_concurrent_requests_share_batches(server_factory, onnx_model):
    server = server_factory("--model", onnx_model, "--max-wait-ms", "300", "--max-batch", "16")

    async def burst():
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(client.post(server.url + "/v1/lines:recognize",
                                                      files=[("files", (f"{i}.png", png(40 + i), "image/png"))])
                                          for i in range(12)))

    responses = asyncio.run(burst())
    assert all(r.status_code == 200 for r in responses)
    metrics = httpx.get(server.url + "/metrics").text
    count = float(re.search(r"^hotich_batch_size_count (\S+)", metrics, re.M).group(1))
    total = float(re.search(r"^hotich_batch_size_sum (\S+)", metrics, re.M).group(1))
    assert total == 12 and count < 12  # fewer batches than lines: requests were batched together
    assert 'hotich_requests_total{endpoint="/v1/lines:recognize",status="200"} 12.0' in metrics
    assert "hotich_queue_depth" in metrics


def test_full_queue_answers_503_with_retry_after(server_factory, onnx_model):
    server = server_factory("--model", onnx_model, "--max-queue", "2")
    files = [("files", (f"{i}.png", png(), "image/png")) for i in range(3)]
    response = httpx.post(server.url + "/v1/lines:recognize", files=files, timeout=60)
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "overloaded"
    assert httpx.post(server.url + "/v1/lines:recognize", files=files[:2], timeout=60).status_code == 200


def test_shutdown_finishes_in_flight_requests(server_factory, onnx_model):
    import threading
    import time

    server = server_factory("--model", onnx_model, "--max-wait-ms", "800")
    result = {}

    def call():
        result["response"] = httpx.post(server.url + "/v1/lines:recognize", timeout=60,
                                        files=[("files", ("a.png", png(), "image/png"))])

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.3)  # the line now waits in the batcher for its batch to fill
    server.process.terminate()
    thread.join(60)
    assert result["response"].status_code == 200 and len(result["response"].json()["lines"]) == 1
    # uvicorn re-raises SIGTERM after its graceful shutdown, so the exit status is -15 (or 0).
    assert server.process.wait(30) in (0, -15)
    assert "finishing in-flight batches" in server.log() and "Application shutdown complete" in server.log()


def test_beam_width_setting(server_factory, onnx_model):
    from inference.ort_runtime import OnnxRecognizer

    server = server_factory("--model", onnx_model, env={"HOTICH_BEAM_WIDTH": "3"})
    images = [png(60), png(200, value=90)]
    response = httpx.post(server.url + "/v1/lines:recognize", timeout=60,
                          files=[("files", (f"{i}.png", data, "image/png")) for i, data in enumerate(images)])
    assert response.status_code == 200
    expected = OnnxRecognizer(onnx_model, beam_width=3).recognize(
        [np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for data in images])
    assert [line["text"] for line in response.json()["lines"]] == [r.text for r in expected]
    assert "beam search, width 3" in server.log()


def test_the_serving_benchmarks_lean_load_client_reads_real_answers(shared_server):
    """benchmarks/serving.py's raw HTTP/1.1 client: every answer is a 200 with one line, as with httpx."""
    import sys
    from pathlib import Path

    sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from serving import load_level

    class Progress:
        def update(self, n):
            pass

    uploads = [(f"l{i}.png", png(80 + 20 * i), "image/png") for i in range(3)]
    for client in ("raw", "httpx"):
        result = asyncio.run(load_level(shared_server.url, uploads, 4, 10, Progress(), client))
        assert (result["errors"], result["errors_by_kind"]) == (0, {}), client
        assert result["lines_per_s"] > 0 and result["client_cpu_ms_per_request"] >= 0
