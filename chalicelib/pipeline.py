"""Processing as a short list of named steps:
check request -> probe header (limits) -> decode -> find faces (detect + landmarks) -> lip mask + tint -> encode
(the answer format's own encoding: the whole frame as a JPEG, or only the tinted lips as a WebP patch).

Each step is a plain function in its own module; this module only strings them together and times them.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from . import faces as face_finder
from . import answers, imaging, lipstick, tracking
from .errors import BadParameter
from .options import TintOptions
from .settings import Settings


@dataclass
class FrameResult:
    width: int
    height: int
    faces: list[face_finder.Face]
    body: bytes = b""          # the answer: the tinted JPEG or WebP patch, or the landmarks JSON
    timings_ms: dict[str, float] = field(default_factory=dict)
    track_state: str = ""      # the signed state for the client's next frame (tint only)
    media_type: str = "application/json"
    status: int = 200          # 204: a patch answer with nothing tinted
    headers: dict[str, str] = field(default_factory=dict)  # the answer format's own (X-Patch-Box)

    @property
    def processing_ms(self) -> float:
        return sum(self.timings_ms.values())

    def boxes_header(self) -> str:
        return ";".join(",".join(str(v) for v in face.box) for face in self.faces)


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round((now - self._last) * 1000.0, 3)
        self._last = now


def model_file(settings: Settings) -> str:
    """The landmark model's path for these settings (see faces.resolve_model_path)."""
    return face_finder.resolve_model_path(settings.model_path, settings.layer_root)


def check_detection_cost(width: int, height: int, min_face: int, settings: Settings) -> float:
    """The detector's scale for ``min_face``; refuse a min_face that would make it scan too many pixels."""
    scale = face_finder.detection_scale(min_face)
    scanned = width * height * scale * scale
    if scanned > settings.max_detect_pixels:
        smallest = int(face_finder.DETECTOR_WINDOW * (width * height / settings.max_detect_pixels) ** 0.5) + 1
        raise BadParameter(f"min_face={min_face} is too small for a {width}x{height} image; "
                           f"use min_face >= {smallest} or send a smaller image", param="min_face")
    return scale


def _decoded(body: bytes | None, content_type: str | None, options: TintOptions, settings: Settings):
    """check request -> probe header (limits) -> load model -> decode. Returns (rgb, scale, model, timer)."""
    timer = _Timer()
    data = imaging.check_request(body, content_type, settings)
    found = imaging.probe(data, settings)
    scale = check_detection_cost(found.width, found.height, options.min_face, settings)
    timer.lap("probe")
    model_path = model_file(settings)
    face_finder.load_model(model_path)  # a missing model fails fast, before decoding
    rgb = imaging.decode(data, found)
    timer.lap("decode")
    return rgb, scale, model_path, timer


def analyse(body: bytes | None, content_type: str | None, options: TintOptions, settings: Settings) -> tuple:
    """Every face with a full search: returns (rgb, FrameResult without body, timer)."""
    rgb, _, model_path, timer = _decoded(body, content_type, options, settings)
    faces = face_finder.find_faces(rgb, options.min_face, model_path)
    timer.lap("faces")
    return rgb, FrameResult(width=rgb.shape[1], height=rgb.shape[0], faces=faces), timer


def tint_frame(body: bytes | None, content_type: str | None, options: TintOptions, settings: Settings,
               track_state: str | None = None, answer: answers.AnswerFormat = answers.FULL) -> FrameResult:
    """Tint the lips of every face; the answer is encoded as ``answer`` says (by default a JPEG of the same
    upright size). With the state of the previous frame, faces are followed instead of searched for (see
    tracking.py)."""
    rgb, _, model_path, timer = _decoded(body, content_type, options, settings)
    height, width = rgb.shape[:2]
    state = tracking.decode(track_state, settings, width, height)
    faces, next_state, _ = tracking.follow(rgb, state, options.min_face, model_path)
    timer.lap("faces")
    result = FrameResult(width=width, height=height, faces=faces)
    original = rgb.copy() if answer.needs_original else None
    regions = lipstick.apply(rgb, [face.points for face in result.faces], options.color, options.intensity,
                             finish=options.finish, shimmer=options.shimmer,
                             before=[track.before for track in next_state.tracks])
    tracking.keep_mask_edges(next_state, regions)
    timer.lap("tint")
    encoded = answer.encode(rgb, original, regions, options, settings)
    result.body, result.media_type, result.status = encoded.body, encoded.media_type, encoded.status
    result.headers = encoded.headers
    result.track_state = tracking.encode(next_state, settings)
    timer.lap("encode")
    result.timings_ms = timer.timings
    return result


def landmarks_frame(body: bytes | None, content_type: str | None, options: TintOptions,
                    settings: Settings) -> FrameResult:
    """Faces and their 68 landmarks as a JSON document, without tinting or encoding."""
    _, result, timer = analyse(body, content_type, options, settings)
    result.body = json.dumps(landmarks_document(result)).encode()
    timer.lap("encode")
    result.timings_ms = timer.timings
    return result


def landmarks_document(result: FrameResult) -> dict:
    return {
        "width": result.width,
        "height": result.height,
        "faces": [{"box": list(face.box),
                   "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in face.points]}
                  for face in result.faces],
    }
