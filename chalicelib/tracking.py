"""Following faces across video frames without server state: the state travels with the client.

Each tint answer carries ``X-Track-State``: a compact binary state (version, frame size, the faces
being followed: box, smoothed lip points, a tiny thumbnail, misses, where their lip mask's edge was drawn)
signed with an HMAC, base64url.
A state that is forged, corrupted, from another version or another frame size is ignored, never an
error. With a valid state the server runs the landmark model where each known face was, and has the
detector look at it again often (at the detector's pace: every 2nd frame with BlazeFace, every 4th with
dlib's HOG), at once when the region stops looking like the face it held (a cut) or the face reaches the
frame's edge; a face the detector no longer sees there is dropped (BlazeFace: at once; HOG, which misses
turned faces, after a few misses), and so is a face whose lips are out of the frame, in the same frame.
A full search runs now and then so that new faces are found. Lip points are smoothed with a
motion-adaptive filter: steady lips hold still, fast moves follow at once; the lip mask's edge, kept per
face (``Track.mask_edge``, opaque bytes of lipmask.Edge), is steadied the same way by the next frame's mask.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass, field

import numpy as np

from . import faces as face_finder
from .faces import iou
from .settings import Settings

VERSION = 3
MAX_TRACKS = 12
FULL_SEARCH_EVERY = 20        # frames between full searches while faces are followed (new faces entering)
SAME_REGION = 0.55            # thumbnail correlation below which a region no longer shows the same face
AT_EDGE = 0.15                # share of a followed box outside the frame from which it is looked at every frame
LIPS_IN_VIEW = 0.5            # share of the outer lip points that must be in the frame for a face to count
THUMB = 6                     # thumbnail side (THUMB x THUMB grey pixels)
MAC_BYTES = 16
LIPS = slice(48, 68)
OUTER_LIPS = slice(48, 60)
ANCHOR = slice(27, 48)        # nose and eyes: they move with the head, not with speech

_HEADER = struct.Struct(">BHHBB")        # version, width, height, frames since full search, faces
_TRACK = struct.Struct(">hhHHhBB")       # box x, y, w, h, roll (0.1 degree), misses, frames since confirmed
_N_REL = 43                               # 20 lip points (x, y), the anchor (x, y), the anchor's spread
_process_secret = secrets.token_bytes(32)


@dataclass
class Track:
    box: tuple[int, int, int, int]
    lips: np.ndarray                      # (20, 2) float32 smoothed lip points, frame pixels
    anchor: np.ndarray                    # (2,) centroid of the nose and eye points (raw), frame pixels
    spread: float                         # their mean distance to that centroid, pixels
    thumb: np.ndarray                     # (THUMB*THUMB,) uint8 grey thumbnail of the box
    misses: int = 0
    since_confirm: int = 0
    roll: float = 0.0                     # the head's roll, degrees (0: upright enough for the frame's box)
    mask_edge: bytes = b""                # where the lip mask drawn from ``lips`` put its edge (lipmask.Edge.pack)
    before: tuple[np.ndarray, bytes] | None = None   # not sent: the previous frame's (lips, mask_edge) of this face

    @property
    def region(self) -> face_finder.Region:
        return face_finder.Region(self.box, self.roll)


@dataclass
class TrackState:
    width: int
    height: int
    since_full: int = 0
    tracks: list[Track] = field(default_factory=list)


def _secret(settings: Settings) -> bytes:
    return settings.state_secret.encode() if settings.state_secret else _process_secret


def encode(state: TrackState, settings: Settings) -> str:
    tracks = state.tracks[:MAX_TRACKS]
    parts = [_HEADER.pack(VERSION, state.width, state.height, min(state.since_full, 255), len(tracks))]
    for t in tracks:
        x, y, w, h = (min(max(int(v), -32768), 32767) for v in t.box)
        w, h = max(1, min(w, 65535)), max(1, min(h, 65535))
        roll = min(max(int(round(t.roll * 10)), -1800), 1800)
        parts.append(_TRACK.pack(x, y, w, h, roll, min(t.misses, 255), min(t.since_confirm, 255)))
        points = np.vstack([t.lips, t.anchor[None, :]]) - np.array([x, y], np.float32)
        rel = np.concatenate([points.reshape(-1), [t.spread]]) / w          # -1..3 box widths -> uint16
        parts.append(np.clip(np.rint((rel + 1.0) * 16384), 0, 65535).astype(">u2").tobytes())
        parts.append(t.thumb.astype(np.uint8).tobytes())
        edge = t.mask_edge if len(t.mask_edge) < 256 else b""
        parts.append(bytes([len(edge)]) + edge)
    payload = b"".join(parts)
    mac = hmac.new(_secret(settings), payload, hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")


def decode(token: str | None, settings: Settings, width: int, height: int) -> TrackState | None:
    """The state, or None when absent, forged, corrupted, of another version or another frame size."""
    if not token or len(token) > 8192:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    expected = hmac.new(_secret(settings), payload, hashlib.sha256).digest()[:MAC_BYTES]
    if len(raw) <= MAC_BYTES or not hmac.compare_digest(mac, expected):
        return None
    try:
        version, w, h, since_full, count = _HEADER.unpack_from(payload, 0)
        if version != VERSION or (w, h) != (width, height) or count > MAX_TRACKS:
            return None
        offset = _HEADER.size
        tracks = []
        for _ in range(count):
            x, y, bw, bh, roll, misses, since_confirm = _TRACK.unpack_from(payload, offset)
            offset += _TRACK.size
            rel = (np.frombuffer(payload, ">u2", _N_REL, offset).astype(np.float32) / 16384 - 1.0) * bw
            offset += 2 * _N_REL
            thumb = np.frombuffer(payload, np.uint8, THUMB * THUMB, offset).copy()
            offset += THUMB * THUMB
            edge = payload[offset + 1:offset + 1 + payload[offset]]
            offset += 1 + payload[offset]
            points = rel[:42].reshape(21, 2) + np.array([x, y], np.float32)
            if not np.isfinite(points).all() or rel[42] <= 0 or abs(roll) > 1800:
                return None
            tracks.append(Track(box=(x, y, bw, bh), lips=points[:20], anchor=points[20], spread=float(rel[42]),
                                thumb=thumb, misses=misses, since_confirm=since_confirm, roll=roll / 10.0,
                                mask_edge=bytes(edge)))
        if offset != len(payload):
            return None
    except (struct.error, IndexError, ValueError):
        return None
    return TrackState(width=w, height=h, since_full=since_full, tracks=tracks)


_SAMPLES = 4  # pixels sampled per thumbnail cell and axis
_STEPS = np.arange(THUMB * _SAMPLES)
_LAST_STEP = THUMB * _SAMPLES - 1
_GREY = np.array([0.299, 0.587, 0.114], np.float32)
_CELL_MEAN = np.float32(1.0 / (_SAMPLES * _SAMPLES))


def thumbnail(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A THUMB x THUMB grey summary of the frame inside ``box``: each cell the mean of a 4x4 grid of
    pixels sampled in it (a few hundred pixels read, whatever the face's size); zeros off the frame."""
    x, y, w, h = box
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return np.zeros(THUMB * THUMB, np.uint8)
    ys = y0 + _STEPS * (y1 - 1 - y0) // _LAST_STEP     # evenly spaced rows and columns, first to last
    xs = x0 + _STEPS * (x1 - 1 - x0) // _LAST_STEP
    grey = rgb[ys[:, None], xs].astype(np.float32) @ _GREY
    cells = grey.reshape(THUMB, _SAMPLES, THUMB, _SAMPLES).sum(axis=(1, 3)) * _CELL_MEAN
    return np.clip(np.rint(cells), 0, 255).astype(np.uint8).reshape(-1)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two thumbnails (1 = same pattern; flat regions count as different)."""
    a = a.astype(np.float32) - a.mean()
    b = b.astype(np.float32) - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 1e-6 else 0.0


def smooth(previous: np.ndarray, current: np.ndarray, face_width: float) -> np.ndarray:
    """Motion-adaptive exponential smoothing: small moves (jitter) are damped, large moves followed."""
    step = current - previous
    motion = float(np.sqrt((step * step).sum(axis=1)).mean()) / max(face_width, 1.0)
    alpha = min(1.0, max(0.25, 0.25 + motion * 25.0))
    return previous + alpha * step


def _anchor(points: np.ndarray) -> tuple[np.ndarray, float]:
    stable = points[ANCHOR]
    centre = stable.mean(axis=0)
    offsets = stable - centre
    return centre, float(np.sqrt((offsets * offsets).sum(axis=1)).mean())


def _moved_box(track: Track, centre: np.ndarray, spread: float) -> tuple[int, int, int, int]:
    """The followed box carried along with the face: shifted and scaled as the nose and eyes moved
    (``centre`` and ``spread`` are this frame's ``_anchor``)."""
    ratio = min(1.25, max(0.8, spread / max(track.spread, 1e-3)))
    x, y, w, h = track.box
    cx, cy = x + w / 2 + (centre[0] - track.anchor[0]), y + h / 2 + (centre[1] - track.anchor[1])
    w, h = w * ratio, h * ratio
    return int(round(cx - w / 2)), int(round(cy - h / 2)), max(1, int(round(w))), max(1, int(round(h)))


def _outside(box, width: int, height: int) -> float:
    """The share of ``box`` outside the frame."""
    x, y, w, h = box
    inside = max(0, min(width, x + w) - max(0, x)) * max(0, min(height, y + h) - max(0, y))
    return 1.0 - inside / max(w * h, 1)


def lips_in_view(points: np.ndarray, width: int, height: int) -> bool:
    """Whether at least LIPS_IN_VIEW of the outer lip points lie in the frame."""
    lips = points[OUTER_LIPS]
    inside = (lips[:, 0] >= 0) & (lips[:, 0] < width) & (lips[:, 1] >= 0) & (lips[:, 1] < height)
    return inside.mean() >= LIPS_IN_VIEW


def follow(rgb: np.ndarray, state: TrackState | None, min_face: int, model_path: str,
           smoothing: bool = True) -> tuple[list[face_finder.Face], TrackState, bool]:
    """Find this frame's faces using the previous state; returns (faces, the next state, full search?).

    A followed face costs one landmark call: the model runs on the face's last region, which is carried
    along with the nose and eyes. Every ``confirm_every`` frames of the detector, and in every frame
    while the face is at the frame's edge, the detector looks at it again; a face it no longer sees is
    dropped (after ``max_misses`` such frames away from the edge), and so is a face whose region stops
    looking like the face it held (a cut: a new face found there is new) or whose lips are out of the frame.
    A full search runs when nothing is followed, every FULL_SEARCH_EVERY frames, and in the frame where
    a face was dropped.
    """
    detector = face_finder.detector()
    height, width = rgb.shape[:2]
    previous = list(state.tracks) if state else []
    full = not previous or state.since_full + 1 >= FULL_SEARCH_EVERY
    # (region, previous track or None, misses, since_confirm, landmarks already computed for it or None,
    #  whether the region is the track's own, carried along)
    kept: list[tuple] = []
    dropped = False
    for track in previous:
        if similarity(thumbnail(rgb, track.box), track.thumb) < SAME_REGION:
            dropped = True        # not the face it was (a cut): whatever is there now is a new face
            continue
        at_edge = _outside(track.box, width, height) > AT_EDGE
        if at_edge or track.since_confirm + 1 >= detector.confirm_every:
            found = detector.near(rgb, track.region, min_face, model_path)
            if found is not None:
                kept.append((found, track, 0, 0, None, False))
            elif not at_edge and track.misses < detector.max_misses:
                points = face_finder.landmarks(rgb, track.region, model_path)
                kept.append((track.region, track, track.misses + 1, 0, points, True))
            else:
                dropped = True
        else:
            points = face_finder.landmarks(rgb, track.region, model_path)
            kept.append((track.region, track, track.misses, track.since_confirm + 1, points, True))
    if full or dropped:
        full = True
        for region in detector.find(rgb, min_face, model_path):
            match = max(range(len(kept)), key=lambda i: iou(kept[i][0].box, region.box), default=None)
            if match is not None and iou(kept[match][0].box, region.box) > 0.3:
                kept[match] = (region, kept[match][1], 0, 0, None, False)   # confirmed by the full search
            else:
                kept.append((region, None, 0, 0, None, False))
    kept = _without_duplicates(kept)
    missing = [i for i, entry in enumerate(kept) if entry[4] is None]
    if missing:   # the faces found or confirmed by the detector in this frame, as one batch
        computed = face_finder.landmarks_of(rgb, [kept[i][0] for i in missing], model_path)
        for i, points in zip(missing, computed):
            kept[i] = (*kept[i][:4], points, kept[i][5])
    found_faces, tracks = [], []
    for region, track, misses, since_confirm, points, carried in kept:
        if not lips_in_view(points, width, height):
            continue                      # the lips left the frame: nothing to tint, not followed
        lips = points[LIPS]
        if track is not None and smoothing:
            lips = smooth(track.lips, lips, region.box[2])
            points = points.copy()
            points[LIPS] = lips
        found_faces.append(face_finder.Face(box=face_finder.clip_box(region.bounds(), width, height), points=points))
        raw_anchor, spread = _anchor(points)
        next_box = _moved_box(track, raw_anchor, spread) if carried else region.box
        roll = face_finder.roll_of(points) if carried else region.roll
        tracks.append(Track(box=next_box, lips=lips.astype(np.float32), anchor=raw_anchor, spread=max(spread, 1e-3),
                            thumb=thumbnail(rgb, next_box), misses=misses, since_confirm=since_confirm, roll=roll,
                            before=(track.lips, track.mask_edge) if track is not None and track.mask_edge else None))
    since_full = 0 if full else state.since_full + 1
    return found_faces, TrackState(width=width, height=height, since_full=since_full, tracks=tracks[:MAX_TRACKS]), full


def keep_mask_edges(state: TrackState, regions) -> None:
    """Keep in ``state`` where this frame's lip masks put their edges (``regions``: lipstick.TintedRegion,
    each of the face with the index of its track), for the next frame's masks to start from."""
    for region in regions:
        if region.face < len(state.tracks):
            state.tracks[region.face].mask_edge = region.edge


def _without_duplicates(pairs):
    """Two followed regions on one face: keep the confirmed (fewest misses), then the first."""
    kept = []
    for pair in sorted(pairs, key=lambda p: p[2]):
        if all(iou(pair[0].box, other[0].box) < 0.5 for other in kept):
            kept.append(pair)
    return sorted(kept, key=lambda p: (p[0].box[0], p[0].box[1]))
