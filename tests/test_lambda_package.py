"""The real deployment artefacts, run the way Lambda runs them (awslambdaric, task root + /opt layers),
their size against Lambda's 250 MB limit, the function's imports, and the SAM template's lint."""
from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import os
import pathlib
import subprocess
import sys

import pytest

from chalicelib import blazeface
from layers import build
from tests.conftest import ROOT, decode, need_data, read
from tests.lambda_runtime import api_gateway_event, folder_size, lambda_function, peak_memory_mb, unpack
from tests.servers import AWS_TEST_ENV, moto_server

LAMBDA_LIMIT = 250 * 1000 * 1000  # Lambda counts 250 MB as 262,144,000 bytes; this is the stricter reading


@pytest.fixture(scope="module")
def artefacts():
    need_data()
    manifest = build.build("prod")
    return build.BUILD / "prod", manifest


def test_function_and_layers_fit_lambdas_250_mb(artefacts, tmp_path):
    build_dir, manifest = artefacts
    folders = unpack(build_dir, tmp_path)
    task, opt = folder_size(folders["task"]), folder_size(folders["opt"])
    print(f"\nunzipped: function {task / 1e6:.1f} MB, layers {opt / 1e6:.1f} MB "
          f"(dependencies {manifest['parts']['layer-deployment.zip']['unzipped'] / 1e6:.1f} MB, "
          f"model {manifest['parts']['model-layer.zip']['unzipped'] / 1e6:.1f} MB), total {(task + opt) / 1e6:.1f} MB")
    assert task + opt == manifest["unzipped_total"]
    assert task + opt < LAMBDA_LIMIT
    assert (folders["opt"] / "models" / "shape_predictor_68_face_landmarks.npz").stat().st_size > 60_000_000
    for spec in (blazeface.SHORT_RANGE, blazeface.FULL_RANGE):   # the detector models, as checked when fetched
        assert hashlib.sha256((folders["opt"] / "models" / spec.file).read_bytes()).hexdigest() == spec.sha256
    site = folders["opt"] / "python" / "lib" / "python3.11" / "site-packages"
    assert not list(site.glob("cv2*")), "OpenCV must not ship to Lambda"
    assert not list(site.glob("mediapipe*")), "only mediapipe's model files ship, not mediapipe"
    assert {p.name for p in site.iterdir()} >= {"numpy", "PIL", "simplejpeg", "dlib", "ai_edge_litert"}


def test_builds_are_reproducible(artefacts):
    build_dir, manifest = artefacts
    again = build.build("prod")
    for name in ("deployment.zip", "model-layer.zip", "layer-deployment.zip"):
        assert again["parts"][name]["sha256"] == manifest["parts"][name]["sha256"], name


def _imports(path: pathlib.Path) -> set[str]:
    """Top-level modules a file imports, except those inside `try: ... except ImportError` (optional)."""
    tree = ast.parse(path.read_text())
    optional = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            for inner in ast.walk(ast.Module(body=node.body, type_ignores=[])):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    optional.add(id(inner))
    names = set()
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_server_code_imports_only_what_lambda_gets():
    """Everything app.py and chalicelib/ import: the standard library, the project, Chalice (packaged by
    Chalice), boto3 (in Lambda's runtime) and the packages of requirements.txt, by their import names."""
    lambda_requirements = {"dlib": {"dlib", "_dlib_pybind11"}, "numpy": {"numpy"}, "Pillow": {"PIL"},
                           "simplejpeg": {"simplejpeg"}, "ai-edge-litert": {"ai_edge_litert"}}
    pinned = {line.split("==")[0].replace("dlib-bin", "dlib") for line in
              (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")}
    assert pinned == set(lambda_requirements), "requirements.txt changed: update this map"
    allowed = set(sys.stdlib_module_names) | {"chalicelib", "chalice", "boto3", "botocore", "__future__"}
    allowed |= set().union(*lambda_requirements.values())
    files = [ROOT / "app.py", *sorted((ROOT / "chalicelib").glob("*.py"))]
    for path in files:
        extra = _imports(path) - allowed
        assert not extra, f"{path.name} imports {sorted(extra)}, which Lambda does not get"


def test_the_function_runs_under_awslambdaric(artefacts, tmp_path):
    build_dir, _ = artefacts
    folders = unpack(build_dir, tmp_path)
    with moto_server() as (endpoint, _):
        import boto3

        from chalicelib.store import DynamoStore
        from chalicelib import metering
        from chalicelib import settings as settings_module
        dynamo = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        DynamoStore.create_table(dynamo, "tintcam-prod-meter")
        meter = metering.Meter(DynamoStore("tintcam-prod-meter", client=dynamo),
                               settings_module.load({"TINTCAM_METER_STORE": "dynamodb"}))
        key, record = meter.create_key("lambda test", 100)
        env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": endpoint, "TINTCAM_METER_STORE": "dynamodb",
               "TINTCAM_METER_TABLE": "tintcam-prod-meter", "TINTCAM_STATE_SECRET": "test"}
        with lambda_function(folders, env) as (api, proc, started):
            photo = read("Tom_Cruise_avp_2014_4.jpg")
            answer = api.invoke(api_gateway_event("POST", "/v1/tint", photo, {
                "Content-Type": "image/jpeg", "Accept": "image/jpeg"}, api_key=key, query={"color": "8E2043"}))
            cold = api.first_answer_at - started
            assert answer["statusCode"] == 200, answer
            assert answer["isBase64Encoded"] is True and answer["headers"]["Content-Type"] == "image/jpeg"
            assert answer["headers"]["X-Faces"] == "1" and answer["headers"]["X-Quota-Remaining"] == "99"
            tinted = decode(base64.b64decode(answer["body"]))
            assert tinted.shape == decode(photo).shape
            # a patch answer: WebP with alpha from the layer's Pillow, binary like the JPEG
            patch = api.invoke(api_gateway_event("POST", "/v1/tint", photo, {
                "Content-Type": "image/jpeg", "Accept": "image/webp"}, api_key=key, query={"answer": "patch"}))
            assert patch["statusCode"] == 200 and patch["isBase64Encoded"] is True, patch
            assert patch["headers"]["Content-Type"] == "image/webp" and patch["headers"]["X-Patch-Box"]
            from PIL import Image
            with Image.open(io.BytesIO(base64.b64decode(patch["body"]))) as webp:
                assert (webp.format, webp.mode) == ("WEBP", "RGBA")
                assert webp.size == tuple(int(v) for v in patch["headers"]["X-Patch-Box"].split(",")[2:])
            nothing = api.invoke(api_gateway_event("POST", "/v1/tint", read("dogs.jpg"), {
                "Content-Type": "image/jpeg", "Accept": "image/webp"}, api_key=key, query={"answer": "patch"}))
            assert nothing["statusCode"] == 204 and not nothing["body"] and nothing["headers"]["X-Faces"] == "0"
            # the key came from the request context (there is no x-api-key header); a wrong one is refused
            refused = api.invoke(api_gateway_event("POST", "/v1/tint", photo, {
                "Content-Type": "image/jpeg", "Accept": "image/jpeg"}, api_key="tc_" + "q" * 43))
            assert refused["statusCode"] == 403 and json.loads(refused["body"])["code"] == "invalid_api_key"
            bad = api.invoke(api_gateway_event("POST", "/v1/tint", b"not a jpeg", {
                "Content-Type": "image/jpeg", "Accept": "image/jpeg"}, api_key=key))
            assert bad["statusCode"] == 400 and json.loads(bad["body"])["code"] == "invalid_image"
            wrong_type = api.invoke(api_gateway_event("POST", "/v1/tint", b"hello", {
                "Content-Type": "text/plain", "Accept": "image/jpeg"}, api_key=key))
            assert wrong_type["statusCode"] == 415
            assert json.loads(wrong_type["body"])["code"] == "unsupported_media_type"
            health = api.invoke(api_gateway_event("GET", "/health"))
            assert health["statusCode"] == 200 and json.loads(health["body"])["model"]["loaded"]
            usage = api.invoke(api_gateway_event("GET", "/v1/usage", api_key=key))
            assert json.loads(usage["body"])["frames_charged"] == 2
            peak = peak_memory_mb(proc.pid)
        print(f"\ncold start under awslambdaric (process start to first answer): {cold:.2f} s; "
              f"peak memory {peak:.0f} MB")
        assert peak < 1769
        assert meter.usage(record)["frames_charged"] == 2  # counted in DynamoDB by the function itself


def test_sam_template_passes_cfn_lint(artefacts):
    build_dir, _ = artefacts
    template = build_dir / "sam.json"
    sam = json.loads(template.read_text())
    function = sam["Resources"]["APIHandler"]["Properties"]
    assert function["Runtime"] == "python3.11" and function["MemorySize"] == 1769
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "cfn-lint"), str(template)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
