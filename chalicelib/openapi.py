"""The OpenAPI 3 description of the API, built from the code it describes (the routes' parameters come
from options.py, the limits from settings.py, the error codes from errors.py).

``chalicelib/openapi.json`` is this document written out (``python -m chalicelib.openapi``); the API
serves that file at ``GET /openapi.json`` and a test keeps the two in sync.
"""
from __future__ import annotations

import json
import pathlib
import sys
from functools import lru_cache

from . import __version__, answers, errors
from .options import ANSWERS, FINISHES
from .settings import Settings

FILE = pathlib.Path(__file__).with_name("openapi.json")


def _error_codes() -> dict[int, list[str]]:
    codes: dict[int, list[str]] = {}
    stack = [errors.TintcamError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls is not errors.TintcamError:
            codes.setdefault(cls.status, []).append(cls.code)
    return {status: sorted(set(c)) for status, c in sorted(codes.items())}


def _error(description: str, example_code: str, example_message: str, headers: dict | None = None) -> dict:
    answer = {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"},
        "example": {"code": example_code, "message": example_message}}}}
    if headers:
        answer["headers"] = headers
    return answer


def _json_answer(description: str, schema: str, headers: dict) -> dict:
    """A JSON answer whose body is one of the document's named schemas."""
    return {"description": description, "headers": headers,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def document(settings: Settings | None = None) -> dict:
    s = settings or Settings()
    codes = _error_codes()
    retry_after = {"Retry-After": {"description": "seconds to wait before trying again",
                                   "schema": {"type": "integer", "minimum": 1}}}
    cors = {"Access-Control-Allow-Origin": {"description": "present for allowed site origins",
                                            "schema": {"type": "string"}}}

    def errs(*statuses: int, name: str = "frame") -> dict:
        text = {
            400: ("bad_parameter", "intensity must be between 0.0 and 1.0, got '2'",
                  "a bad query parameter (`param` names it), an empty body or an image that cannot be decoded"),
            401: ("missing_api_key", "this route needs an API key in the 'x-api-key' header", "no API key"),
            403: ("invalid_api_key", "the API key is not valid", "unknown or revoked API key"),
            406: ("not_acceptable", "answer=patch answers image/webp: send 'Accept: image/webp' (first in the "
                                    "list); got 'image/jpeg'",
                  "the first Accept value is not the answer's type: image/jpeg for `answer=full` (the default), "
                  "image/webp for `answer=patch` (a WebP is only given as a patch)"),
            413: ("image_too_large", f"6000x6000 image has 36000000 pixels; the limit is {s.max_pixels}",
                  f"body over {s.max_body_bytes} bytes, image over {s.max_pixels} pixels or a side over "
                  f"{s.max_side} (read from the header, before decoding), or an answer that cannot fit"),
            415: ("unsupported_media_type", "the body is a GIF image; tintcam accepts JPEG or PNG",
                  "a Content-Type other than image/jpeg or image/png, or a body in another image format"),
            429: ("quota_exceeded", "the monthly quota of 1000 frames is used up; it resets at the start of next "
                                    "month (UTC), in 86400 s", "the key's monthly quota is used up"),
            503: ("meter_unavailable", "the meter store is unavailable",
                  "the meter store or the landmark model is unavailable; nothing was charged"),
        }
        out = {}
        for status in statuses:
            code, message, description = text[status]
            description += ". Codes: " + ", ".join(f"`{c}`" for c in codes.get(status, [code]))
            out[str(status)] = _error(description, code, message,
                                      {**retry_after, **cors} if status in (429, 503) else dict(cors))
        return out

    image_body = {"required": True, "description": f"the image: JPEG or PNG, at most {s.max_body_bytes} bytes, "
                                                   f"{s.max_pixels} pixels and {s.max_side} px a side",
                  "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                              "image/png": {"schema": {"type": "string", "format": "binary"}}}}
    frame_headers = {
        "X-Faces": {"description": "faces found", "schema": {"type": "integer", "minimum": 0}},
        "X-Processing-Ms": {"description": "server time spent on the frame", "schema": {"type": "string"}},
        "X-Quota-Remaining": {"description": "charged frames left this month", "schema": {"type": "integer"}},
        **cors,
    }
    tint_headers = {**frame_headers,
                    "X-Face-Boxes": {"description": "x,y,w,h;x,y,w,h in pixels", "schema": {"type": "string"}},
                    "X-Track-State": {"description": "state to send with the next frame", "schema": {"type": "string"}}}
    min_face = {"name": "min_face", "in": "query", "required": False,
                "description": "smallest face to look for, in pixels of the upright frame (detection cost grows "
                               "with pixels / min_face^2)",
                "schema": {"type": "integer", "minimum": s.min_min_face, "maximum": s.max_min_face,
                           "default": s.default_min_face}}
    idempotency = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "a retried request with the same key is answered again but counted once "
                                  f"(remembered {s.idempotency_ttl_s} s)",
                   "schema": {"type": "string", "pattern": "^[!-~]{1,128}$"}}
    security = [{"apiKey": []}]
    preflight = {"options": {"summary": "CORS preflight for the camera site", "security": [],
                             "responses": {"204": {"description": "the origin is allowed (or no Origin was sent)"},
                                           "403": {"description": "the origin is not allowed"}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "tintcam frame API", "version": __version__,
                 "description": "Virtual lipstick try-on: send a camera frame, get it back with the lips of "
                                "every face tinted. Every frame is metered per API key."},
        "servers": [{"url": "http://localhost:8000", "description": "make start (chalice local)"}],
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string", "description": "stable machine-readable code"},
                    "message": {"type": "string", "description": "what was wrong, for people"},
                    "param": {"type": "string", "description": "the parameter at fault"}}},
                "Landmarks": {"type": "object", "required": ["width", "height", "faces"], "properties": {
                    "width": {"type": "integer"}, "height": {"type": "integer"},
                    "faces": {"type": "array", "items": {"type": "object", "required": ["box", "landmarks"],
                                                         "properties": {
                        "box": {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 4},
                        "landmarks": {"type": "array", "minItems": 68, "maxItems": 68, "items": {
                            "type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}}}}}},
                "Usage": {"type": "object", "required": ["month", "frames_charged", "frames_not_charged",
                                                         "charge_usd", "quota", "quota_remaining"], "properties": {
                    "month": {"type": "string", "example": "2026-11"}, "customer": {"type": "string"},
                    "key_id": {"type": "string"}, "frames_charged": {"type": "integer"},
                    "frames_not_charged": {"type": "integer"}, "requests": {"type": "integer"},
                    "faces": {"type": "integer"}, "server_seconds": {"type": "number"},
                    "bytes_in": {"type": "integer"}, "bytes_out": {"type": "integer"},
                    "charge_usd": {"type": "number"}, "price_per_1000_frames_usd": {"type": "number"},
                    "quota": {"type": "integer"}, "quota_remaining": {"type": "integer"}}},
                "Health": {"type": "object", "required": ["status", "version", "model"], "properties": {
                    "status": {"type": "string", "enum": ["ok", "unavailable"]}, "version": {"type": "string"},
                    "model": {"type": "object", "properties": {
                        "loaded": {"type": "boolean"}, "file": {"type": "string"},
                        "load_seconds": {"type": "number"}, "error": {"type": "string", "nullable": True}}}}},
            },
        },
        "paths": {
            "/v1/tint": {
                "post": {
                    "summary": "Tint the lips of every face in a frame",
                    "security": security,
                    "parameters": [
                        {"name": "color", "in": "query", "required": False,
                         "description": "lipstick shade, hex RRGGBB with or without '#'",
                         "schema": {"type": "string", "pattern": "^#?[0-9a-fA-F]{6}$",
                                    "default": s.default_color}, "example": "8E2043"},
                        {"name": "intensity", "in": "query", "required": False,
                         "description": "how far the lips move toward the shade; 0 leaves the frame unchanged",
                         "schema": {"type": "number", "minimum": 0, "maximum": 1,
                                    "default": s.default_intensity}},
                        {"name": "finish", "in": "query", "required": False,
                         "description": "how light sits on the colour: `satin` the lips' own sheen, `matte` "
                                        "highlights and fine sheen damped, `gloss` highlights lifted along the lips",
                         "schema": {"type": "string", "enum": list(FINISHES), "default": FINISHES[0]}},
                        {"name": "shimmer", "in": "query", "required": False,
                         "description": "fine sparkle fixed to the lips; 0 none",
                         "schema": {"type": "number", "minimum": 0, "maximum": 1, "default": 0}},
                        {"name": "quality", "in": "query", "required": False, "description": "output JPEG quality",
                         "schema": {"type": "integer", "minimum": s.min_quality, "maximum": s.max_quality,
                                    "default": s.default_quality}},
                        min_face,
                        {"name": "answer", "in": "query", "required": False,
                         "description": "`full`: the whole frame as a JPEG; `patch`: only the tinted lips of every "
                                        "face, a WebP with alpha (the tint's mask) cropped to their union box, which "
                                        "`X-Patch-Box` places in the frame (draw it over the frame you sent); "
                                        "204 when nothing was tinted",
                         "schema": {"type": "string", "enum": list(ANSWERS), "default": ANSWERS[0]}},
                        {"name": "Accept", "in": "header", "required": True,
                         "description": "must start with the answer's type: image/jpeg for `answer=full`, "
                                        "image/webp for `answer=patch` (API Gateway returns binary bodies only then)",
                         "schema": {"type": "string", "enum": [f.media_type for f in answers.FORMATS.values()]}},
                        {"name": "X-Track-State", "in": "header", "required": False,
                         "description": "the previous answer's state for the next frame of the same video; a "
                                        "forged, corrupted or foreign one is ignored", "schema": {"type": "string"}},
                        idempotency,
                    ],
                    "requestBody": image_body,
                    "responses": {
                        "200": {"description": "`answer=full`: the frame, same size as the upright input, lips "
                                               "tinted (image/jpeg); `answer=patch`: the tinted lips only "
                                               "(image/webp with alpha) to draw at `X-Patch-Box`",
                                "headers": {**tint_headers,
                                            answers.PATCH_BOX_HEADER: {
                                                "description": "patch answers: x,y,w,h of the patch in pixels of "
                                                               "the upright frame", "schema": {"type": "string"}}},
                                "content": {f.media_type: {"schema": {"type": "string", "format": "binary"}}
                                            for f in answers.FORMATS.values()}},
                        "204": {"description": "`answer=patch` and nothing was tinted (no face, or intensity 0): "
                                               "show the frame as sent", "headers": tint_headers},
                        **errs(400, 401, 403, 406, 413, 415, 429, 503),
                    },
                },
                **preflight,
            },
            "/v1/landmarks": {
                "post": {
                    "summary": "Faces and their 68 landmarks (iBUG 300-W order)",
                    "security": security,
                    "parameters": [min_face, idempotency],
                    "requestBody": image_body,
                    "responses": {
                        "200": _json_answer("faces, boxes and landmarks", "Landmarks", frame_headers),
                        **errs(400, 401, 403, 413, 415, 429, 503),
                    },
                },
                **preflight,
            },
            "/v1/usage": {
                "get": {
                    "summary": "The caller's usage this month",
                    "security": security,
                    "responses": {
                        "200": _json_answer("usage, charge and quota left", "Usage", cors),
                        **errs(401, 403, 503),
                    },
                },
                **preflight,
            },
            "/health": {
                "get": {
                    "summary": "Whether the landmark model is loaded (loads it: a warm-up call)",
                    "security": [],
                    "responses": {
                        "200": _json_answer("ready", "Health", cors),
                        "503": _json_answer("the model is missing or corrupt", "Health", cors),
                    },
                },
            },
            "/openapi.json": {
                "get": {
                    "summary": "This description", "security": [],
                    "responses": {"200": {"description": "OpenAPI 3 document", "headers": cors,
                                          "content": {"application/json": {"schema": {"type": "object"}}}}},
                },
            },
        },
    }


@lru_cache(maxsize=1)
def served() -> str:
    """The committed document, read once per process (what GET /openapi.json answers)."""
    return FILE.read_text()


def serialized(settings: Settings | None = None) -> str:
    return json.dumps(document(settings), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(serialized())
