"""The API through a real `chalice local` process, as a developer (and the camera page) meets it."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import requests

from tests.conftest import JPEG_HEADERS, LANDMARK_HEADERS, decode, read


def test_health_and_a_tinted_frame(local_api):
    base, _ = local_api
    health = requests.get(base + "/health", timeout=30)
    assert health.status_code == 200 and health.json()["model"]["loaded"]
    data = read("Tom_Cruise_avp_2014_4.jpg")
    resp = requests.post(base + "/v1/tint?color=8E2043", data=data, headers=JPEG_HEADERS, timeout=30)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/jpeg"
    assert resp.headers["X-Faces"] == "1"
    assert decode(resp.content).shape == decode(data).shape


def test_errors_are_json_and_server_keeps_serving(local_api):
    base, proc = local_api
    for body, headers, status in [
        (b"", JPEG_HEADERS, 400),
        (b"not an image at all", JPEG_HEADERS, 400),
        (read("dogs.jpg"), {**JPEG_HEADERS, "Content-Type": "text/plain"}, 415),
        (read("dogs.jpg")[:5000], JPEG_HEADERS, 400),
    ]:
        resp = requests.post(base + "/v1/tint", data=body, headers=headers, timeout=30)
        assert resp.status_code == status
        assert resp.headers["Content-Type"] == "application/json" and resp.json()["code"]
    assert proc.poll() is None
    assert requests.post(base + "/v1/tint", data=read("dogs.jpg"), headers=JPEG_HEADERS,
                         timeout=30).headers["X-Faces"] == "0"


def test_concurrent_frames_do_not_crash_dlib(local_api):
    """chalice local answers in threads; several frames in flight at once must all succeed."""
    base, proc = local_api
    frames = [read(name) for name in ("2008_007676.jpg", "2008_004176.jpg", "Tom_Cruise_avp_2014_4.jpg")]

    def send(i):
        resp = requests.post(base + "/v1/tint?min_face=40", data=frames[i % 3], headers=JPEG_HEADERS, timeout=60)
        return resp.status_code, resp.headers.get("X-Faces")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, range(24)))
    assert proc.poll() is None
    assert all(status == 200 for status, _ in results)
    assert {faces for _, faces in results} == {"7", "1"}


def test_landmarks_over_http(local_api):
    base, _ = local_api
    resp = requests.post(base + "/v1/landmarks?min_face=40", data=read("2008_001009.jpg"),
                         headers=LANDMARK_HEADERS, timeout=30)
    assert resp.status_code == 200
    doc = resp.json()
    assert len(doc["faces"]) == 2 and np.array(doc["faces"][0]["landmarks"]).shape == (68, 2)
