"""A corpus of bad and odd requests, each with the exact status and error code the API must give.
Used by tests/test_corpus.py and bench/hardening.py."""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from tests.conftest import FACES


@dataclass
class Case:
    name: str
    status: int
    code: str | None = None                 # the error code, or None for a success
    body: bytes = b""
    query: str = ""
    headers: dict = field(default_factory=dict)
    method: str = "POST"
    path: str = "/v1/tint"
    key: str | None = "default"              # "default" = the test key; None = no key; else this key
    upright: tuple[int, int] | None = None   # expected (width, height) of a JPEG answer, or of the frame a
                                             # WebP patch answer goes in


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_with_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 10000))
            + _png_chunk(b"IEND", b""))


def _corrupt_huffman(jpeg: bytes) -> bytes:
    at = jpeg.index(b"\xff\xc4")
    data = bytearray(jpeg)
    for i in range(at + 5, at + 5 + 16):  # the 16 code-length counts of the first table: impossible values
        data[i] = 0xFF
    return bytes(data)


def _sof_dimensions(jpeg: bytes, width: int, height: int) -> bytes:
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = jpeg.find(marker)
        if at >= 0:
            data = bytearray(jpeg)
            data[at + 5:at + 9] = struct.pack(">HH", height, width)
            return bytes(data)
    raise ValueError("no SOF marker")


def cases() -> list[Case]:
    photo = Image.open(FACES / "Tom_Cruise_avp_2014_4.jpg").convert("RGB")
    small = photo.resize((283, 400))
    jpeg = _save(small, "JPEG", quality=90)
    w, h = small.size
    ok = {"Content-Type": "image/jpeg", "Accept": "image/jpeg"}
    png_ok = {"Content-Type": "image/png", "Accept": "image/jpeg"}
    webp = {"Content-Type": "image/jpeg", "Accept": "image/webp"}
    out = [
        Case("empty body", 400, "empty_body", b"", headers=ok),
        Case("random bytes", 400, "invalid_image", np.random.default_rng(1).bytes(5000), headers=ok),
        Case("truncated JPEG", 400, "invalid_image", jpeg[: len(jpeg) // 2], headers=ok),
        Case("JPEG with a corrupt Huffman table", 400, "invalid_image", _corrupt_huffman(jpeg), headers=ok),
        Case("JPEG magic and nothing else", 400, "invalid_image", b"\xff\xd8\xff" + b"\x00" * 64, headers=ok),
        Case("PNG bomb 60000x60000 in a few hundred bytes", 413, "image_too_large", _png_with_header(60000, 60000),
             headers=png_ok),
        Case("JPEG header declaring 65000x65000", 413, "image_too_large", _sof_dimensions(jpeg, 65000, 65000),
             headers=ok),
        Case("PNG header declaring 0x0", 400, "invalid_image", _png_with_header(0, 0), headers=png_ok),
        Case("1x1 image", 200, None, _save(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), headers=png_ok,
             upright=(1, 1)),
        Case("huge but valid image (3840x2160)", 200, None,
             _save(photo.resize((3840, 2160)), "JPEG", quality=70), headers=ok, upright=(3840, 2160)),
        Case("image over the pixel limit (4000x4000)", 413, "image_too_large",
             _save(Image.new("RGB", (4000, 4000)), "JPEG"), headers=ok),
        Case("body over the byte limit", 413, "payload_too_large", b"\xff\xd8\xff" + b"\x00" * 4_600_000, headers=ok),
        Case("animated GIF sent as image/jpeg", 415, "unsupported_media_type",
             _save(small, "GIF", save_all=True, append_images=[small.rotate(10)], duration=100), headers=ok),
        Case("WebP sent as image/jpeg", 415, "unsupported_media_type", _save(small, "WEBP"), headers=ok),
        Case("HEIC sent as image/jpeg", 415, "unsupported_media_type",
             b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200, headers=ok),
        Case("TIFF sent as image/jpeg", 415, "unsupported_media_type", _save(small, "TIFF"), headers=ok),
        Case("BMP sent as image/jpeg", 415, "unsupported_media_type", _save(small, "BMP"), headers=ok),
        Case("wrong Content-Type text/plain", 415, "unsupported_media_type", jpeg,
             headers={"Content-Type": "text/plain", "Accept": "image/jpeg"}),
        Case("Content-Type application/octet-stream", 415, "unsupported_media_type", jpeg,
             headers={"Content-Type": "application/octet-stream", "Accept": "image/jpeg"}),
        Case("Content-Type application/json", 415, "unsupported_media_type", b'{"image": 1}',
             headers={"Content-Type": "application/json", "Accept": "image/jpeg"}),
        Case("missing Accept", 406, "not_acceptable", jpeg, headers={"Content-Type": "image/jpeg"}),
        Case("Accept application/json", 406, "not_acceptable", jpeg,
             headers={"Content-Type": "image/jpeg", "Accept": "application/json"}),
        Case("JPEG declared as image/png", 200, None, jpeg, headers=png_ok, upright=(w, h)),
        Case("CMYK JPEG", 200, None, _save(small.convert("CMYK"), "JPEG"), headers=ok, upright=(w, h)),
        Case("grayscale JPEG", 200, None, _save(small.convert("L"), "JPEG"), headers=ok, upright=(w, h)),
        Case("progressive JPEG", 200, None, _save(small, "JPEG", progressive=True), headers=ok, upright=(w, h)),
        Case("16-bit PNG", 200, None,
             _save(Image.fromarray(np.asarray(small.convert("L")).astype(np.uint16) * 257), "PNG"), headers=png_ok,
             upright=(w, h)),
        Case("RGBA PNG", 200, None, _save(small.convert("RGBA"), "PNG"), headers=png_ok, upright=(w, h)),
        Case("palette PNG", 200, None, _save(small.convert("P"), "PNG"), headers=png_ok, upright=(w, h)),
    ]
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        size = (h, w) if orientation >= 5 else (w, h)
        out.append(Case(f"EXIF orientation {orientation}", 200, None, _save(small, "JPEG", exif=exif.tobytes()),
                        headers=ok, upright=size))
    for query, what in [("color=red", "colour name"), ("color=%2312345", "5-digit colour"),
                        ("color=1234567", "7-digit colour"), ("intensity=-1", "negative intensity"),
                        ("intensity=nan", "intensity NaN"), ("intensity=2", "intensity above 1"),
                        ("quality=10", "quality too low"), ("quality=100", "quality too high"),
                        ("quality=abc", "quality not a number"), ("min_face=5", "min_face too small"),
                        ("min_face=99999", "min_face too large"), ("colour=ff0000", "unknown parameter"),
                        ("intensity=0.5&intensity=", "empty repeated parameter"), ("answer=webp", "unknown answer"),
                        ("answer=PATCH", "answer in capitals"), ("answer=", "empty answer")]:
        out.append(Case(f"bad parameter: {what}", 400, "bad_parameter", jpeg, query="?" + query, headers=ok))
    for query, what in [("finish=shiny", "unknown finish"), ("finish=GLOSS", "finish in capitals"),
                        ("finish=", "empty finish"), ("shimmer=2", "shimmer above 1"), ("shimmer=-0.5", "negative shimmer"),
                        ("shimmer=lots", "shimmer not a number")]:
        out.append(Case(f"bad parameter: {what}", 400, "bad_parameter", jpeg, query="?" + query, headers=ok))
    out += [
        Case("gloss finish with shimmer", 200, None, jpeg, query="?finish=gloss&shimmer=0.8&intensity=1", headers=ok,
             upright=(w, h)),
        Case("matte finish as a patch answer", 200, None, jpeg, query="?finish=matte&answer=patch", headers=webp,
             upright=(w, h)),
        Case("landmarks with a finish", 400, "bad_parameter", jpeg, query="?finish=gloss",
             headers={"Content-Type": "image/jpeg"}, path="/v1/landmarks"),
    ]
    big = _save(photo.resize((3840, 2160)), "JPEG", quality=50)
    out += [
        Case("min_face too small for a 3840x2160 image", 400, "bad_parameter", big, query="?min_face=20", headers=ok),
        Case("forged tracking state", 200, None, jpeg, headers={**ok, "X-Track-State": "AQKAAeA" + "A" * 200},
             upright=(w, h)),
        Case("tracking state of random bytes", 200, None, jpeg, headers={**ok, "X-Track-State": "%%%not base64%%%"},
             upright=(w, h)),
        Case("huge header (40 KB)", 200, None, jpeg, headers={**ok, "X-Track-State": "B" * 40_000}, upright=(w, h)),
        Case("Idempotency-Key too long", 400, "bad_parameter", jpeg, headers={**ok, "Idempotency-Key": "k" * 300}),
        Case("key with odd characters", 403, "invalid_api_key", jpeg, headers=ok, key="tc_<script>' OR 1=1 --"),
        Case("key of 2 KB", 403, "invalid_api_key", jpeg, headers=ok, key="tc_" + "x" * 2000),
        Case("no key", 401, "missing_api_key", jpeg, headers=ok, key=None),
        Case("GET on a POST route", 405, "method_not_allowed", method="GET"),
        Case("POST on /health", 405, "method_not_allowed", method="POST", path="/health", key=None),
        Case("patch answer", 200, None, jpeg, query="?answer=patch", headers=webp, upright=(w, h)),
        Case("patch answer of a PNG with Accept listing webp first", 200, None,
             _save(small, "PNG"), query="?answer=patch&color=2040d0",
             headers={"Content-Type": "image/png", "Accept": "image/webp, image/jpeg;q=0.8"}, upright=(w, h)),
        Case("patch answer, no face: 204", 204, None, _save(Image.new("RGB", (64, 48), (90, 120, 60)), "PNG"),
             query="?answer=patch", headers={"Content-Type": "image/png", "Accept": "image/webp"}),
        Case("patch answer at intensity 0: 204", 204, None, jpeg, query="?answer=patch&intensity=0", headers=webp),
        Case("answer=full said outright", 200, None, jpeg, query="?answer=full", headers=ok, upright=(w, h)),
        Case("webp asked without answer=patch", 406, "not_acceptable", jpeg, headers=webp),
        Case("webp asked with answer=full", 406, "not_acceptable", jpeg, query="?answer=full", headers=webp),
        Case("answer=patch with Accept image/jpeg", 406, "not_acceptable", jpeg, query="?answer=patch", headers=ok),
        Case("answer=patch without Accept", 406, "not_acceptable", jpeg, query="?answer=patch",
             headers={"Content-Type": "image/jpeg"}),
        Case("answer=patch with Accept image/*", 406, "not_acceptable", jpeg, query="?answer=patch",
             headers={"Content-Type": "image/jpeg", "Accept": "image/*"}),
        Case("landmarks with answer=patch", 400, "bad_parameter", jpeg, query="?answer=patch",
             headers={"Content-Type": "image/jpeg"}, path="/v1/landmarks"),
        Case("landmarks with a tint parameter", 400, "bad_parameter", jpeg, query="?color=ff0000",
             headers={"Content-Type": "image/jpeg"}, path="/v1/landmarks"),
        Case("landmarks of random bytes", 400, "invalid_image", b"\x89PNG\r\n\x1a\n" + b"\x01" * 300,
             headers={"Content-Type": "image/png"}, path="/v1/landmarks"),
    ]
    return out


def send(session, base: str, case: Case, test_key: str):
    headers = dict(case.headers)
    key = test_key if case.key == "default" else case.key
    if key is not None:
        headers["x-api-key"] = key
    return session.request(case.method, base + case.path + case.query, data=case.body or None, headers=headers,
                           timeout=120)


def check(case: Case, resp) -> str | None:
    """None when the answer is what the case expects, else what was wrong."""
    if resp.status_code != case.status:
        return f"status {resp.status_code}, expected {case.status}: {resp.text[:200]}"
    if case.code is not None:
        if not resp.headers.get("Content-Type", "").startswith("application/json"):
            return f"error answer is {resp.headers.get('Content-Type')}, not JSON"
        body = resp.json()
        if body.get("code") != case.code or not body.get("message"):
            return f"code {body.get('code')!r}, expected {case.code!r}"
    elif case.status == 204:
        if resp.content or resp.headers.get("X-Faces") is None or "X-Patch-Box" in resp.headers:
            return f"204 with {len(resp.content)} bytes, X-Faces {resp.headers.get('X-Faces')}"
    elif resp.headers.get("Content-Type") == "image/webp":
        return _check_patch(case, resp)
    elif case.upright is not None:
        img = Image.open(io.BytesIO(resp.content))
        if img.format != "JPEG" or img.size != case.upright:
            return f"answer {img.format} {img.size}, expected JPEG {case.upright}"
    return None


def _check_patch(case: Case, resp) -> str | None:
    img = Image.open(io.BytesIO(resp.content))
    x, y, w, h = (int(v) for v in resp.headers.get("X-Patch-Box", "-1,-1,0,0").split(","))
    frame_w, frame_h = case.upright
    if img.format != "WEBP" or img.mode != "RGBA" or img.size != (w, h):
        return f"patch {img.format} {img.mode} {img.size}, expected WEBP RGBA {(w, h)}"
    if x < 0 or y < 0 or x + w > frame_w or y + h > frame_h or int(resp.headers.get("X-Faces", "0")) < 1:
        return f"patch box {(x, y, w, h)} outside the {case.upright} frame, or no face"
    return None
