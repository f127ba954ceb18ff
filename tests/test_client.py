"""The Python client and the `tintcam` command line against a real `chalice local`, with a key made by
the admin command."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.colour import box_slices, mean_delta_e
from tests.conftest import FACES, VIDEO, admin_create_key, need_data, read
from tests.servers import Proxy, chalice_local, free_port
from tintcam_client import AuthError, BadRequest, Client, QuotaExceeded

TINTCAM = os.path.join(os.path.dirname(sys.executable), "tintcam")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    need_data()
    return {"TINTCAM_DB": str(tmp_path_factory.mktemp("client") / "meter.sqlite3")}


def admin_key(env, customer, quota):
    return admin_create_key(env, customer, quota)[0]


@pytest.fixture(scope="module")
def api(env):
    with chalice_local(env=env) as (base, _):
        yield base


@pytest.fixture(scope="module")
def key(env, api):
    return admin_key(env, "client tests", 100_000)


def cli(api, key, *args, env_key=True):
    env = {**os.environ, "TINTCAM_API_URL": api}
    env.pop("TINTCAM_API_KEY", None)
    if env_key:
        env["TINTCAM_API_KEY"] = key
    return subprocess.run([TINTCAM, *args], capture_output=True, text=True, env=env, timeout=600)


def test_library_tint_landmarks_usage(api, key):
    with Client(api, key) as client:
        assert "***" in repr(client) and key not in repr(client)
        before = client.usage()["frames_charged"]
        result = client.tint(read("Tom_Cruise_avp_2014_4.jpg"), color="#8E2043", intensity=0.8)
        assert result.faces == 1 and len(result.boxes) == 1 and result.server_ms > 0
        assert result.track_state and result.quota_remaining is not None
        assert result.image().shape == (800, 565, 3)
        array = cv2.imread(str(FACES / "2008_007676.jpg"))
        assert client.tint(array, min_face=40).faces == 7  # an OpenCV array is encoded for you
        marks = client.landmarks(read("2009_004587.jpg"), min_face=40)
        assert len(marks.faces) == 2 and len(marks.faces[0]["landmarks"]) == 68
        assert client.usage()["frames_charged"] == before + 3
        with pytest.raises(BadRequest) as err:
            client.tint(b"not an image")
        assert err.value.status == 400 and err.value.code == "invalid_image"


def test_library_patch_answers_are_drawn_over_the_frame_sent(api, key):
    """Camera frames of the clip as a video: patch answers, drawn over each frame here, give the full
    answer's picture for a tenth of the bytes down or less; a frame with nothing tinted is the frame itself."""
    if not VIDEO.exists():
        pytest.skip("clip not found")
    from bench.frame_api import camera_like, clip_frames
    frames = camera_like(clip_frames())[::3]
    state, differences = None, []
    with Client(api, key) as client:
        for frame in frames:
            full = client.tint(frame, track_state=state)   # the same state: the same faces followed
            patch = client.tint(frame, answer="patch", track_state=state)
            state = patch.track_state
            assert patch.answer == "patch" and patch.jpeg is None and patch.faces == full.faces
            picture = patch.image()
            assert picture.shape == frame.shape
            if patch.patch is None:   # nothing tinted: 204, the frame as sent
                assert patch.bytes_down == 0 and np.array_equal(picture, frame)
                continue
            assert patch.bytes_down == len(patch.patch) and patch.bytes_down * 10 < full.bytes_down
            assert patch.bytes_up == full.bytes_up > 10_000
            box = box_slices(patch.patch_box)
            outside = np.ones(frame.shape[:2], bool)
            outside[box] = False
            assert np.array_equal(picture[outside], frame[outside])
            differences.append(mean_delta_e(picture[box][..., ::-1], full.image()[box][..., ::-1])[0])
        # drawn over the frame itself (the JPEG sent has its own noise on top of the full answer's)
        assert len(differences) >= 5 and np.mean(differences) < 3.0 and max(differences) < 4.0, differences
        nothing = client.tint(read("dogs.jpg"), answer="patch")
        assert (nothing.faces, nothing.patch, nothing.bytes_down) == (0, None, 0)
        assert np.array_equal(nothing.image(), cv2.imread(str(FACES / "dogs.jpg")))
        with pytest.raises(ValueError):
            client.tint(frames[0], answer="webp")


def test_wrong_key_and_spent_quota_are_typed_errors(api, env):
    with Client(api, "tc_" + "z" * 43) as client:
        with pytest.raises(AuthError) as err:
            client.tint(read("dogs.jpg"))
        assert err.value.status == 403
    small = admin_key(env, "tiny", 1)
    with Client(api, small) as client:
        client.tint(read("Tom_Cruise_avp_2014_4.jpg"))
        with pytest.raises(QuotaExceeded) as err:
            client.tint(read("Tom_Cruise_avp_2014_4.jpg"))
        assert err.value.retry_after > 60  # until next month: not retried
    out = cli(api, small, "photo", str(FACES / "Tom_Cruise_avp_2014_4.jpg"), "-o", "/tmp/tintcam-never.jpg")
    assert out.returncode == 3 and "quota used up" in out.stderr and small not in out.stderr + out.stdout
    out = cli(api, "tc_" + "z" * 43, "usage")
    assert out.returncode == 1 and "403" in out.stderr


def test_retry_after_503_is_charged_once(api, env):
    """A proxy forwards the first frame to the API (which counts it) but answers 503, as a load balancer
    hiccup would; the client's retry carries the same Idempotency-Key."""
    key = admin_key(env, "flaky network", 100)
    with Proxy(api, lose_first_post=True) as proxy, Client(proxy.url, key, backoff=0.05) as client:
        result = client.tint(read("Tom_Cruise_avp_2014_4.jpg"))
        assert result.faces == 1 and result.retries == 1
        seen = proxy.seen_idempotency_keys
        assert len(seen) == 2 and seen[0] == seen[1]
        usage = client.usage()
    assert usage["frames_charged"] == 1 and usage["requests"] == 1  # counted once, answered twice


def test_gateway_throttling_is_retried(api, env):
    """API Gateway's usage plan throttles a key beyond 20 requests/s (burst 40) with a 429 that has no
    Retry-After (the API's own quota 429 always has one): a video sent with several frames in flight meets
    it, and the client backs off and retries instead of failing the video."""
    key = admin_key(env, "throttled", 100)
    with Proxy(api, throttle_first_post=True) as proxy, Client(proxy.url, key, backoff=0.05) as client:
        result = client.tint(read("Tom_Cruise_avp_2014_4.jpg"))
        assert result.faces == 1 and result.retries == 1
        assert client.usage()["requests"] == 1


def test_connection_errors_are_retried_then_reported():
    from tintcam_client import ConnectionFailed
    with Client(f"http://127.0.0.1:{free_port()}", "tc_" + "a" * 43, retries=2, backoff=0.01) as client:
        with pytest.raises(ConnectionFailed):
            client.usage()


def test_cli_photo_and_folder(api, key, tmp_path):
    out = cli(api, key, "photo", str(FACES / "Tom_Cruise_avp_2014_4.jpg"), "-o", str(tmp_path / "tom.jpg"),
              "--color", "#C2185B")
    assert out.returncode == 0, out.stderr
    assert cv2.imread(str(tmp_path / "tom.jpg")).shape == (800, 565, 3)
    assert "frames: 1" in out.stdout and "charged: 1 frames" in out.stdout
    assert "(median; full answers)" in out.stdout   # photos come back whole unless asked
    out = cli(api, key, "photo", str(FACES / "Tom_Cruise_avp_2014_4.jpg"), "-o", str(tmp_path / "tom-patch.jpg"),
              "--color", "#C2185B", "--answer", "patch")
    assert out.returncode == 0, out.stderr
    assert "(median; patch answers)" in out.stdout
    whole, drawn = cv2.imread(str(tmp_path / "tom.jpg")), cv2.imread(str(tmp_path / "tom-patch.jpg"))
    assert drawn.shape == whole.shape and np.abs(drawn.astype(int) - whole).mean() < 2
    assert key not in out.stdout + out.stderr
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("2008_001009.jpg", "2009_004587.jpg", "dogs.jpg"):
        shutil.copy(FACES / name, photos / name)
    out = cli(api, key, "folder", str(photos), "-o", str(tmp_path / "tinted"), "--min-face", "40", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "tinted").iterdir()) == ["2008_001009.jpg", "2009_004587.jpg",
                                                                     "dogs.jpg"]
    assert "faces: 4" in out.stdout and "charged: 2 frames" in out.stdout  # the dogs are not charged


def test_finish_and_shimmer_from_the_library_and_the_command(api, key, tmp_path):
    photo = read("Tom_Cruise_avp_2014_4.jpg")
    with Client(api, key) as client:
        satin = client.tint(photo, intensity=1).image().astype(int)
        gloss = client.tint(photo, intensity=1, finish="gloss", shimmer=0.5).image().astype(int)
        assert np.abs(gloss - satin).max(axis=2).max() > 40                # the highlights and sparkle
        assert (np.abs(gloss - satin).max(axis=2) > 8).mean() < 0.02       # on the lips only
        with pytest.raises(BadRequest) as err:
            client.tint(photo, finish="shiny")
        assert err.value.code == "bad_parameter" and "finish" in str(err.value)
    out = cli(api, key, "photo", str(FACES / "Tom_Cruise_avp_2014_4.jpg"), "-o", str(tmp_path / "matte.jpg"),
              "--finish", "matte", "--intensity", "1")
    assert out.returncode == 0, out.stderr
    matte = cv2.imread(str(tmp_path / "matte.jpg")).astype(int)     # BGR, as Result.image()
    assert np.abs(matte - satin).max() > 20 and (np.abs(matte - satin).max(axis=2) > 8).mean() < 0.02
    out = cli(api, key, "photo", str(FACES / "Tom_Cruise_avp_2014_4.jpg"), "-o", str(tmp_path / "x.jpg"),
              "--finish", "shiny")
    assert out.returncode == 2 and "--finish" in out.stderr and not (tmp_path / "x.jpg").exists()


def test_cli_video_keeps_frame_count_size_and_rate(api, key, tmp_path):
    if not VIDEO.exists():
        pytest.skip("clip not found")
    clip = tmp_path / "closeup.mp4"
    cap = cv2.VideoCapture(str(VIDEO))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 360))
    for i in range(130):
        ok, frame = cap.read()
        if i >= 90:
            writer.write(frame)
    writer.release()
    cap.release()
    out = cli(api, key, "video", str(clip), "-o", str(tmp_path / "tinted.mp4"), "--in-flight", "3", "--min-face", "60")
    assert out.returncode == 0, out.stderr
    assert "frames: 40" in out.stdout and "p95" in out.stdout
    assert "(median; patch answers)" in out.stdout   # video frames get patches, drawn over the frames here
    up, down = (float(v.split()[0]) * (1024 if v.split()[1] == "KB" else 1)
                for v in out.stdout.split("bytes per frame: ")[1].split(" (")[0].split(" up, "))
    assert 0 < down * 10 < up
    src, dst = cv2.VideoCapture(str(clip)), cv2.VideoCapture(str(tmp_path / "tinted.mp4"))
    assert int(dst.get(cv2.CAP_PROP_FRAME_COUNT)) == int(src.get(cv2.CAP_PROP_FRAME_COUNT)) == 40
    assert (dst.get(cv2.CAP_PROP_FRAME_WIDTH), dst.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (640, 360)
    assert abs(dst.get(cv2.CAP_PROP_FPS) - fps) < 0.01
    # lips tinted: the output differs from the input most around the mouth
    with Client(api, key) as client:
        diffs = []
        for _ in range(10):
            ok1, a = src.read()
            ok2, b = dst.read()
            marks = client.landmarks(a, min_face=60)
            if not marks.faces:
                continue
            lips = np.array(marks.faces[0]["landmarks"][48:60])
            x0, y0 = lips.min(axis=0).astype(int)
            x1, y1 = lips.max(axis=0).astype(int)
            d = np.abs(a.astype(int) - b.astype(int)).sum(axis=2)
            diffs.append(d[y0:y1 + 1, x0:x1 + 1].mean() / max(d.mean(), 1e-6))
        assert diffs and np.median(diffs) > 2.0


def test_cli_errors_are_clear(api, key, tmp_path):
    out = cli(api, key, "video", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "x.mp4"))
    assert out.returncode == 2 and "cannot read" in out.stderr
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    out = cli(api, key, "video", str(bad), "-o", str(tmp_path / "x.mp4"))
    assert out.returncode == 2 and "cannot" in out.stderr
    out = cli(api, key, "usage", env_key=False)
    assert out.returncode == 2 and "no API key" in out.stderr
    out = cli(api, key, "webcam", "--device", str(VIDEO), "--max-frames", "3")
    assert out.returncode == 2 and "no display" in out.stderr
    out = cli(api, key, "webcam", "--device", str(VIDEO), "--max-frames", "5", "-o", str(tmp_path / "cam.mp4"))
    assert out.returncode == 0 and "frames: 5" in out.stdout
