"""Shared fixtures: the real photos in ../shared/data, their reference landmarks, and helpers."""
from __future__ import annotations

import io
import os
import pathlib
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

# Every test run meters into its own SQLite file; servers the tests start inherit it.
os.environ["TINTCAM_DB"] = os.path.join(tempfile.mkdtemp(prefix="tintcam-test-"), "meter.sqlite3")
os.environ.setdefault("TINTCAM_METER_STORE", "sqlite")

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = pathlib.Path(os.environ.get("TINTCAM_TEST_DATA", ROOT.parent / "shared" / "data"))
FACES = DATA / "faces"
VIDEO = DATA / "video" / "short_hamilton_clip.mp4"
ARTIFACTS = ROOT / "test-artifacts"


def need_data() -> pathlib.Path:
    if not FACES.is_dir():
        pytest.skip(f"test photos not found at {FACES} (see ../shared/data/README.md)")
    return FACES


@pytest.fixture(scope="session")
def faces_dir() -> pathlib.Path:
    return need_data()


def read(name: str) -> bytes:
    return (need_data() / name).read_bytes()


def reference_landmarks() -> dict[str, list[np.ndarray]]:
    """file name -> list of (68, 2) reference landmark arrays, from both landmark XML files."""
    refs: dict[str, list[np.ndarray]] = {}
    for xml in ("training_with_face_landmarks.xml", "testing_with_face_landmarks.xml"):
        for image in ET.parse(need_data() / xml).getroot().iter("image"):
            for box in image.iter("box"):
                points = sorted(box.iter("part"), key=lambda p: int(p.get("name")))
                refs.setdefault(image.get("file"), []).append(
                    np.array([[int(p.get("x")), int(p.get("y"))] for p in points], dtype=np.float32))
    return refs


def run_admin(env: dict, *args: str) -> subprocess.CompletedProcess:
    """`python -m chalicelib.admin ARGS` as an admin runs it, with ``env`` over this environment."""
    return subprocess.run([sys.executable, "-m", "chalicelib.admin", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


def admin_create_key(env: dict, customer: str, quota: int, *extra: str) -> tuple[str, str]:
    """A key made by the admin command: (the secret it prints once, its public key id)."""
    out = run_admin(env, "create", "--customer", customer, "--quota", str(quota), *extra)
    assert out.returncode == 0, out.stderr
    key = out.stdout.split("store it safely): ")[1].strip()
    key_id = out.stdout.split()[1]
    assert key.startswith("tc_") and key_id.startswith("key_")
    return key, key_id


def frame_log_lines(log_path: str, key_id: str | None = None) -> list[dict]:
    """The meter's per-frame JSON lines in a server's output (of one key id if given)."""
    import json
    lines = []
    for text in open(log_path, encoding="utf-8", errors="replace"):
        if text.startswith("{") and '"outcome"' in text:
            line = json.loads(text)
            if key_id is None or line["key_id"] == key_id:
                lines.append(line)
    return lines


def jpeg_bytes(rgb: np.ndarray, quality: int = 92, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, **save)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture(scope="session")
def settings():
    from chalicelib import settings as s
    return s.load({})


@pytest.fixture(scope="module")
def local_api():
    """A real `chalice local` process for one test module (it needs the photos): (base URL, process)."""
    need_data()
    from tests.servers import chalice_local
    with chalice_local() as served:
        yield served


@pytest.fixture(scope="session")
def client():
    from chalice.test import Client

    import app
    with Client(app.app) as c:
        yield c


def _test_key() -> str:
    from chalicelib import metering
    from chalicelib import settings as s
    key, _ = metering.get_meter(s.get()).create_key("test suite", 10_000_000)
    return key


TEST_KEY = _test_key()
KEY_HEADERS = {"x-api-key": TEST_KEY}
JPEG_HEADERS = {"Content-Type": "image/jpeg", "Accept": "image/jpeg", **KEY_HEADERS}
LANDMARK_HEADERS = {"Content-Type": "image/jpeg", **KEY_HEADERS}
