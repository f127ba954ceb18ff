"""chalicelib/tracking.py: the signed state, and following faces across real and composed video."""
from __future__ import annotations

import base64

import numpy as np
import pytest
from PIL import Image

from chalicelib import faces, lipmask, options, pipeline, tracking
from chalicelib import settings as settings_module
from tests.conftest import JPEG_HEADERS, VIDEO, decode, jpeg_bytes, read


def frame_state(settings, rgb, state=None, min_face=40):
    model = faces.resolve_model_path("")
    return tracking.follow(rgb, state, min_face, model)


@pytest.fixture(scope="module")
def tom_rgb():
    return decode(read("Tom_Cruise_avp_2014_4.jpg"))


def test_state_round_trip_is_compact_and_signed(settings, tom_rgb):
    found, state, full = frame_state(settings, tom_rgb, min_face=100)
    assert full and len(found) == 1
    token = tracking.encode(state, settings)
    assert len(token) < 300
    back = tracking.decode(token, settings, tom_rgb.shape[1], tom_rgb.shape[0])
    assert back is not None and len(back.tracks) == 1
    assert back.tracks[0].box == state.tracks[0].box
    assert np.abs(back.tracks[0].lips - state.tracks[0].lips).max() < 0.05
    assert np.array_equal(back.tracks[0].thumb, state.tracks[0].thumb)


def test_the_state_carries_where_each_lip_mask_put_its_edge(settings, tom_rgb):
    """A tint answer's state keeps each face's lip mask edge (lipmask.Edge, about a hundred bytes): the next
    frame's follow hands it, with the lip points it was drawn from, to that face's mask."""
    opts = options.parse({"min_face": "100", "color": "B0303F", "intensity": "1"}, settings)
    first = pipeline.tint_frame(jpeg_bytes(tom_rgb), "image/jpeg", opts, settings)
    assert len(first.track_state) < 450
    state = tracking.decode(first.track_state, settings, tom_rgb.shape[1], tom_rgb.shape[0])
    edge = state.tracks[0].mask_edge
    assert 20 < len(edge) < 256
    _, following, _ = frame_state(settings, tom_rgb, state, min_face=100)
    lips, carried = following.tracks[0].before
    assert carried == edge and np.abs(lips - state.tracks[0].lips).max() == 0
    assert lipmask.Edge.unpack(lipmask.LipContour.of_68(lips), carried) is not None
    assert following.tracks[0].mask_edge == b""           # until this frame's mask (keep_mask_edges) sets it
    assert frame_state(settings, tom_rgb, None, min_face=100)[1].tracks[0].before is None   # a new face: none


def test_forged_corrupted_or_foreign_states_are_ignored(settings, tom_rgb):
    _, state, _ = frame_state(settings, tom_rgb, min_face=100)
    token = tracking.encode(state, settings)
    w, h = tom_rgb.shape[1], tom_rgb.shape[0]
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[8] ^= 0x01
    flipped = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    other = settings_module.load({"TINTCAM_STATE_SECRET": "another deployment"})
    for bad in (flipped, token[:-5], token + "AAAA", "", "!!!", "A" * 9000, "x" * 40):
        assert tracking.decode(bad, settings, w, h) is None
    assert tracking.decode(token, other, w, h) is None              # signed with another secret
    assert tracking.decode(token, settings, w + 2, h) is None       # from another frame size
    assert tracking.decode(None, settings, w, h) is None


def test_api_ignores_bad_states_and_returns_a_fresh_one(client):
    data = read("Tom_Cruise_avp_2014_4.jpg")
    first = client.http.post("/v1/tint", body=data, headers=JPEG_HEADERS)
    token = first.headers["X-Track-State"]
    assert first.status_code == 200 and token
    small = jpeg_bytes(decode(data)[:400, :300])
    for state in (token, token[:-3] + "abc", "garbage!", "A" * 5000):  # the first is from another frame size
        resp = client.http.post("/v1/tint", body=small, headers={**JPEG_HEADERS, "X-Track-State": state})
        assert resp.status_code == 200 and resp.headers["X-Track-State"]
    followed = client.http.post("/v1/tint", body=data, headers={**JPEG_HEADERS, "X-Track-State": token})
    assert followed.status_code == 200 and followed.headers["X-Faces"] == "1"


def compose(background, placements):
    frame = background.copy()
    for face, (x, y) in placements:
        frame[y:y + face.shape[0], x:x + face.shape[1]] = face
    return frame


def test_two_faces_entering_and_leaving(settings, tom_rgb):
    """A face enters, a second joins, the first leaves, the second leaves: followed, found, dropped."""
    face_a = np.asarray(Image.fromarray(tom_rgb[100:560, 60:520]).resize((220, 220)))
    guys = decode(read("bald_guys.jpg"))
    model = faces.resolve_model_path("")
    scale = faces.detection_scale(100)
    big = max(faces.detect(np.asarray(Image.fromarray(guys).convert("L").resize(
        (round(guys.shape[1] * scale), round(guys.shape[0] * scale)))), scale), key=lambda b: b[2])
    x, y, w, h = big
    face_b = np.asarray(Image.fromarray(guys[max(0, y - h // 3):y + h + h // 4, max(0, x - w // 4):x + w + w // 4])
                        .resize((200, 220)))
    background = np.full((480, 640, 3), 90, np.uint8)
    background[:, :, 1] = np.linspace(60, 140, 640, dtype=np.uint8)[None, :]
    timeline = []
    for i in range(60):
        placed = []
        if 3 <= i < 40:
            placed.append((face_a, (40 + i, 120)))             # A drifts right
        if 10 <= i < 52:
            placed.append((face_b, (400, 150 - i // 4)))       # B drifts up
        timeline.append((compose(background, placed), len(placed)))
    state, counts = None, []
    for rgb, _ in timeline:
        found, state, _ = tracking.follow(rgb, state, 100, model)
        counts.append(len(found))
    expected = [n for _, n in timeline]
    # no face before A enters or after B leaves, one face right after each departure
    assert counts[:3] == [0, 0, 0] and counts[52:] == [0] * 8
    assert counts[3] == 1                                                # no faces followed: full search
    assert all(c == 2 for c in counts[10 + tracking.FULL_SEARCH_EVERY:40])  # B found by a full search
    assert all(c == 1 for c in counts[41:52])                           # A dropped when it left
    assert sum(c == e for c, e in zip(counts, expected)) >= len(expected) - tracking.FULL_SEARCH_EVERY - 2


@pytest.fixture(scope="module")
def clip():
    if not VIDEO.exists():
        pytest.skip(f"clip not found at {VIDEO}")
    import cv2

    from bench.frame_api import read_video
    return [cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) for frame in read_video(VIDEO)]


def run(settings, frames, min_face=40):
    opts = options.parse({"min_face": str(min_face)}, settings)
    state, out = None, []
    for rgb in frames:
        result = pipeline.tint_frame(jpeg_bytes(rgb), "image/jpeg", opts, settings, state)
        state = result.track_state
        out.append(result)
    return out


def test_clip_cuts_drop_faces_and_the_close_up_is_always_tinted(settings, clip):
    # wide stage shot -> profile (cut at 20): nothing tinted in the profile shot, nothing carried over
    results = run(settings, clip[10:40])
    assert all(len(r.faces) == 0 for r in results[10:])
    # close-up -> audience (cut at 211): every close-up frame tinted, the close-up face not carried over
    results = run(settings, clip[180:225])
    assert all(len(r.faces) >= 1 for r in results[:31])
    # the first audience frame shows exactly what a search without a state finds there: nothing carried
    fresh = run(settings, clip[211:212])[0]
    assert [f.box for f in results[31].faces] == [f.box for f in fresh.faces]
    assert all(np.array_equal(a.points, b.points) for a, b in zip(results[31].faces, fresh.faces))
    assert sum(len(r.faces) > 0 for r in results[31:]) >= 12  # the audience's faces are found and followed


def camera_moving_over(photo: np.ndarray, face_width: int, steps, size=(640, 480)):
    """A video made from ``photo``: the photo scaled so its face is ``face_width`` px wide, laid on a grey
    studio backdrop, and a ``size`` camera window that starts with the face in the middle and moves by
    ``steps`` (dx, dy per frame: panning, tilting). Yields (frame, the face's 68 points in that frame)."""
    model = faces.resolve_model_path("")
    face, = faces.find_faces(photo, 100, model, "hog")
    scale = face_width / face.box[2]
    scaled = np.asarray(Image.fromarray(photo).resize((round(photo.shape[1] * scale), round(photo.shape[0] * scale)),
                                                      Image.LANCZOS))
    width, height = size
    canvas = np.full((scaled.shape[0] + 4 * height, scaled.shape[1] + 4 * width, 3), 128, np.uint8)
    canvas[2 * height:2 * height + scaled.shape[0], 2 * width:2 * width + scaled.shape[1]] = scaled
    points = face.points * scale + np.array([2 * width, 2 * height], np.float32)
    x, y = points[27:48].mean(axis=0) - np.array([width / 2, height / 2])
    for dx, dy in steps:
        x, y = x + dx, y + dy
        left, top = int(round(x)), int(round(y))
        yield np.ascontiguousarray(canvas[top:top + height, left:left + width]), points - np.array([left, top], np.float32)


def _lips_out(points: np.ndarray, width=640, height=480) -> bool:
    lips = points[48:60]
    return not ((lips[:, 0] >= 0) & (lips[:, 0] < width) & (lips[:, 1] >= 0) & (lips[:, 1] < height)).any()


@pytest.mark.parametrize("how,steps", [
    ("tilting down: the face leaves at the top", [(0, 0)] * 6 + [(1, 9)] * 56),
    ("panning: the face leaves at the right", [(0, 0)] * 6 + [(-11, 2)] * 44),
])
def test_no_face_and_no_pixel_changed_once_the_lips_have_left(client, tom_rgb, how, steps):
    """A camera over a shared photo pans or tilts until the face leaves, each answer's state sent with
    the next frame (as the camera page does): while the whole face is in view it is tinted; once the
    lips are out of the frame no answer reports a face or differs from the frame merely re-encoded."""
    state, after_lips_left, in_view = None, 0, 0
    for rgb, points in camera_moving_over(tom_rgb, 220, steps):
        sent = jpeg_bytes(rgb)
        headers = {**JPEG_HEADERS, "X-Track-State": state} if state else JPEG_HEADERS
        resp = client.http.post("/v1/tint?intensity=1&color=2040E0", body=sent, headers=headers)
        assert resp.status_code == 200
        state = resp.headers["X-Track-State"]
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        if x0 >= 0 and y0 >= 0 and x1 < 640 and y1 < 480:          # the whole face in view
            in_view += 1
            assert resp.headers["X-Faces"] == "1", how
        if _lips_out(points):
            after_lips_left += 1
            assert resp.headers["X-Faces"] == "0" and resp.headers["X-Face-Boxes"] == "", how
            untouched = client.http.post("/v1/tint?intensity=0", body=sent, headers=JPEG_HEADERS)
            assert resp.body == untouched.body, how                   # not a pixel tinted
    assert in_view >= 8 and after_lips_left >= 8
