"""Hot reload: the batcher swaps models between requests, never inside one; a real server reloads another model
under concurrent load with no failed request, and every response names the model that answered it."""
import asyncio
import io
import shutil
import threading
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from inference.batcher import MicroBatcher

KEY = "reload-test-key"


def test_batcher_replace_never_splits_a_request():
    batches = []

    def model(tag):
        def recognize(images):
            batches.append((tag, list(images)))
            time.sleep(0.02)
            return [(tag, image) for image in images]
        return recognize

    async def scenario():
        batcher = MicroBatcher(model("old"), max_batch=4, max_wait_ms=20, max_queue=100)
        batcher.start()
        first = asyncio.create_task(batcher.submit([1, 2, 3, 4, 5, 6]))  # two batches' worth
        swapped_at = []
        swap = asyncio.create_task(batcher.replace(model("new"), on_swap=lambda: swapped_at.append(len(batches))))
        second = asyncio.create_task(batcher.submit([7, 8]))
        results = await asyncio.gather(first, swap, second)
        third = await batcher.submit([9])
        await batcher.close()
        return results[0], results[2], third, swapped_at

    first, second, third, swapped_at = asyncio.run(scenario())
    assert first == [("old", i) for i in range(1, 7)]
    assert second == [("new", 7), ("new", 8)] and third == [("new", 9)]
    # The batch in progress when the swap arrived ended at the swap: [5, 6] did not wait for, or mix with, [7, 8].
    assert batches == [("old", [1, 2, 3, 4]), ("old", [5, 6]), ("new", [7, 8]), ("new", [9])]
    assert swapped_at == [2]  # on_swap ran between the old model's last batch and the new one's first


@pytest.fixture(scope="module")
def other_onnx_model(tiny_onnx_model, tmp_path_factory) -> str:
    """The tiny export under another weights hash: another version to the server, without a second export (the
    slow part). The swap itself is what is under test; the batcher test above covers which model runs what."""
    import json

    other = tmp_path_factory.mktemp("other-recognizer") / "onnx"
    shutil.copytree(tiny_onnx_model, other)
    config = json.loads((other / "onnx_config.json").read_text())
    config["source"]["weights_sha256"] = "0123456789ab" + config["source"]["weights_sha256"][12:]
    (other / "onnx_config.json").write_text(json.dumps(config))
    return str(other)


def _png(seed: int, width: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (32, width, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_reload_under_concurrent_requests(server_factory, tiny_onnx_model, other_onnx_model, tmp_path):
    server = server_factory("--model", tiny_onnx_model, "--max-wait-ms", "5", env={"HOTICH_API_KEY": KEY})
    headers = {"X-API-Key": KEY}
    before = httpx.get(server.url + "/v1/models", headers=headers).json()["models"][0]
    files = [("files", (f"{i}.png", _png(i, 60 + 20 * i), "image/png")) for i in range(3)]
    seen: list[list[tuple[float, int, str | None]]] = [[] for _ in range(4)]  # (sent at, status, version)
    errors: list[str] = []
    stop = threading.Event()

    def client(k: int) -> None:
        with httpx.Client(timeout=60, headers=headers) as http:
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    response = http.post(server.url + "/v1/lines:recognize", files=files)
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                body = response.json() if response.status_code == 200 else {}
                seen[k].append((sent, response.status_code, body.get("model", {}).get("version")))
                if response.status_code == 200:
                    assert len(body["lines"]) == 3

    def wait_for(n: int, since: float = 0.0, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while any(sum(s >= since for s, _, _ in rows) < n for rows in seen) and time.monotonic() < deadline:
            time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(seen))]
    for thread in threads:
        thread.start()
    try:
        wait_for(3)
        assert httpx.post(server.url + "/v1/models:reload", json={"path": other_onnx_model}).status_code == 401
        answer = httpx.post(server.url + "/v1/models:reload", json={"path": other_onnx_model, "name": "other"},
                            headers=headers, timeout=120)
        reloaded_at = time.monotonic()
        assert answer.status_code == 200, answer.text
        wait_for(3, since=reloaded_at)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    new = answer.json()["model"]
    assert answer.json()["previous"] == before and new["name"] == "other" and new["version"] != before["version"]
    assert errors == []
    statuses = [status for rows in seen for _, status, _ in rows]
    assert statuses and set(statuses) == {200}, "a request failed during the reload"
    for rows in seen:
        versions = [version for _, _, version in rows]
        assert set(versions) <= {before["version"], new["version"]}
        switch = versions.index(new["version"])
        assert set(versions[:switch]) == {before["version"]} and set(versions[switch:]) == {new["version"]}
        assert all(version == new["version"] for sent, _, version in rows if sent > reloaded_at)
    assert httpx.get(server.url + "/v1/models", headers=headers).json()["models"] == [new]
    assert httpx.get(server.url + "/readyz").json()["model"] == new
    assert 'hotich_model_reloads_total{status="ok"} 1.0' in httpx.get(server.url + "/metrics").text

    # Bad reloads are refused with a named error and change nothing.
    broken = tmp_path / "broken"
    shutil.copytree(other_onnx_model, broken)
    for graph in broken.glob("*.onnx"):
        graph.write_bytes(b"not a graph")
    for body, status, code in [({"path": str(tmp_path / "missing")}, 404, "model_not_found"),
                               ({"path": str(tmp_path)}, 404, "model_not_found"),  # a folder, but no model in it
                               ({"path": str(broken)}, 422, "model_load_failed"),
                               ({"name": "x"}, 400, "bad_request"), ({"path": ""}, 400, "bad_request")]:
        refused = httpx.post(server.url + "/v1/models:reload", json=body, headers=headers, timeout=60)
        assert (refused.status_code, refused.json()["error"]["code"]) == (status, code), body
    refused = httpx.post(server.url + "/v1/models:reload", content=b"{nope", headers=headers)
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "bad_json")
    assert httpx.get(server.url + "/v1/models", headers=headers).json()["models"] == [new]
    after = httpx.post(server.url + "/v1/lines:recognize", files=files, headers=headers, timeout=60)
    assert after.status_code == 200 and after.json()["model"] == new
