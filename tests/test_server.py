import httpx


def test_healthz_over_real_uvicorn(server_factory):
    server = server_factory()
    response = httpx.get(server.url + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    # The OpenAPI document is served and describes the endpoint.
    spec = httpx.get(server.url + "/openapi.json", timeout=5).json()
    assert "/healthz" in spec["paths"]
    server.stop()
    assert server.process.returncode is not None


def test_unknown_path_is_a_json_404(server_factory):
    server = server_factory()
    response = httpx.get(server.url + "/nope", timeout=5)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
