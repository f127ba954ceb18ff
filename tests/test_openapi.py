"""The OpenAPI description: in sync with the code, served by the API, rendered by the site, and
schemathesis run against a real `chalice local` from it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

import app
from chalicelib import openapi
from chalicelib.errors import TintcamError
from tests.conftest import ARTIFACTS, TEST_KEY, need_data
from tests.servers import chalice_local, free_port

SCHEMATHESIS_EXAMPLES = int(os.environ.get("TINTCAM_SCHEMATHESIS_EXAMPLES", "40"))


def test_the_committed_file_is_the_generated_document():
    assert openapi.FILE.read_text() == openapi.serialized(), \
        "chalicelib/openapi.json is stale: run .venv/bin/python -m chalicelib.openapi > chalicelib/openapi.json"


def test_every_route_and_error_code_is_described():
    doc = openapi.document()
    routes = {(path, method.lower()) for path, methods in app.app.routes.items() for method in methods}
    described = {(path, method) for path, methods in doc["paths"].items() for method in methods}
    assert routes == described
    text = json.dumps(doc)
    stack, codes = [TintcamError], set()
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        codes.add(cls.code)
    codes.discard("internal_error")
    assert all(f"`{code}`" in text for code in codes), sorted(c for c in codes if f"`{c}`" not in text)
    params = {p["name"] for p in doc["paths"]["/v1/tint"]["post"]["parameters"] if p["in"] == "query"}
    from chalicelib.options import ALLOWED
    assert params == set(ALLOWED)


SITE_PORT = free_port()


@pytest.fixture(scope="module")
def api():
    need_data()
    with chalice_local(env={"TINTCAM_SITE_ORIGINS": f"http://127.0.0.1:{SITE_PORT}"}) as (base, proc):
        yield base, proc


def test_served_description_matches(api):
    base, _ = api
    resp = requests.get(base + "/openapi.json", timeout=30)
    assert resp.status_code == 200 and resp.json() == openapi.document()


def test_schemathesis_finds_no_server_error_or_contradiction(api):
    """All of schemathesis's checks but positive_data_acceptance: the schema can say 'binary' but not
    'a decodable JPEG with a face', so random bytes that fit the schema are rightly refused with 400."""
    base, proc = api
    ARTIFACTS.mkdir(exist_ok=True)
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "st"), "run", base + "/openapi.json",
                          "--url", base, "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                          "-H", f"x-api-key: {TEST_KEY}", "-n", str(SCHEMATHESIS_EXAMPLES),
                          "--request-timeout", "30", "--max-response-time", "20", "--generation-deterministic",
                          "--report", "junit", "--report-dir", str(ARTIFACTS / "schemathesis")],
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-6000:]
    assert "No issues found" in out.stdout
    assert proc.poll() is None


class QuietHandler(__import__("http.server").server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_reference_page_renders_every_operation(api, tmp_path):
    """frontend/api.html in Chromium renders the description served by the API."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.browser import CHROMIUM, launch
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium not found")
    import functools
    import http.server
    import shutil
    import threading
    base, _ = api
    site = tmp_path / "site"
    shutil.copytree(os.path.join(os.path.dirname(__file__), "..", "frontend"), site,
                    ignore=shutil.ignore_patterns("config.json"))
    (site / "config.json").write_text(json.dumps({"apiUrl": base}))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", SITE_PORT), functools.partial(
        QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_api.sync_playwright() as p:
            browser = launch(p, None)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/api.html")
            page.wait_for_selector("body[data-ready='true']", timeout=20000)
            headings = page.get_by_role("heading", level=2).all_inner_texts()
            browser.close()
    finally:
        server.shutdown()
    assert {"POST /v1/tint", "POST /v1/landmarks", "GET /v1/usage", "GET /health"} <= set(headings)
