"""The library: one keep-alive session, timeouts always set, retries that are never billed twice."""
from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import requests
from requests.adapters import HTTPAdapter

from .patch import composite, decode_patch, parse_box

Image = Union[bytes, bytearray, np.ndarray]


class ApiError(Exception):
    """An error answer from the API (or no answer at all): ``status``, ``code`` and its message."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{message} (HTTP {status}, {code})" if status else message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


class AuthError(ApiError):
    """401 (no key) or 403 (unknown or revoked key)."""


class QuotaExceeded(ApiError):
    """429: the monthly quota is used up (``retry_after`` seconds until it resets) or too many requests."""


class BadRequest(ApiError):
    """400, 406, 413, 415: the request or the image was refused; retrying will not help."""


class ServerError(ApiError):
    """5xx after the retries ran out."""


class ConnectionFailed(ApiError):
    """The API could not be reached (after the retries)."""


ANSWERS = ("full", "patch")
_ACCEPT = {"full": "image/jpeg", "patch": "image/webp"}


@dataclass
class TintResult:
    """One tinted frame. Full answers carry the whole frame (``jpeg``); patch answers only the tinted lips
    (``patch``, a WebP with alpha, at ``patch_box`` = (x, y, w, h); None when nothing was tinted), and
    ``image()`` draws them over the frame that was sent."""
    jpeg: bytes | None
    faces: int
    boxes: list[tuple[int, int, int, int]]
    server_ms: float
    quota_remaining: int | None
    track_state: str | None
    latency_ms: float = 0.0
    retries: int = 0
    answer: str = "full"
    patch: bytes | None = None
    patch_box: tuple[int, int, int, int] | None = None
    bytes_up: int = 0          # the body sent
    bytes_down: int = 0        # the answer's body
    sent: bytes = b""          # the image sent (what a patch is drawn over)
    frame: np.ndarray | None = field(default=None, repr=False)  # the array it was encoded from, if any

    def image(self) -> np.ndarray:
        """The tinted frame as an OpenCV (BGR) array (for a patch answer: drawn over the frame sent)."""
        import cv2
        if self.answer == "full":
            return cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR)
        base = self.frame if self.frame is not None else cv2.imdecode(np.frombuffer(self.sent, np.uint8),
                                                                      cv2.IMREAD_COLOR)
        if self.patch is None:
            return base.copy()
        return composite(base, decode_patch(self.patch), self.patch_box)


@dataclass
class LandmarksResult:
    width: int
    height: int
    faces: list[dict] = field(default_factory=list)


def _error_for(status: int) -> type[ApiError]:
    if status in (401, 403):
        return AuthError
    if status == 429:
        return QuotaExceeded
    if status >= 500:
        return ServerError
    return BadRequest


class Client:
    """A tintcam API client. Thread-safe for concurrent ``tint`` calls (one pooled session)."""

    def __init__(self, api_url: str, api_key: str, *, timeout: tuple[float, float] = (5.0, 30.0),
                 retries: int = 4, backoff: float = 0.5, max_retry_wait: float = 30.0, pool: int = 16) -> None:
        if not api_url:
            raise ValueError("api_url is required")
        if not api_key:
            raise ValueError("api_key is required")
        self.api_url = api_url.rstrip("/")
        self._key = api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:  # never show the key
        return f"Client({self.api_url!r}, api_key='***')"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ calls
    def tint(self, image: Image, *, color: str | None = None, intensity: float | None = None,
             finish: str | None = None, shimmer: float | None = None, quality: int | None = None,
             min_face: int | None = None, track_state: str | None = None,
             idempotency_key: str | None = None, answer: str = "full") -> TintResult:
        """Tint the lips of every face. ``image``: JPEG/PNG bytes or an OpenCV (BGR) array. ``finish``:
        satin (the API's default), matte or gloss; ``shimmer``: 0..1 of fine sparkle. ``answer``: "full"
        (the whole frame back as a JPEG) or "patch" (only the tinted lips; ``image()`` draws them over the
        frame sent: far fewer bytes down, what video wants)."""
        if answer not in ANSWERS:
            raise ValueError(f"answer must be one of {', '.join(ANSWERS)}")
        body, content_type = _encode(image)
        params = {k: v for k, v in (("color", color.lstrip("#") if color else None), ("intensity", intensity),
                                    ("finish", finish), ("shimmer", shimmer),
                                    ("quality", quality), ("min_face", min_face),
                                    ("answer", "patch" if answer == "patch" else None)) if v is not None}
        headers = {"Content-Type": content_type, "Accept": _ACCEPT[answer]}
        if track_state:
            headers["X-Track-State"] = track_state
        resp, latency, retries = self._send("POST", "/v1/tint", params, headers, body, idempotency_key)
        boxes = [tuple(int(v) for v in b.split(",")) for b in resp.headers.get("X-Face-Boxes", "").split(";") if b]
        remaining = resp.headers.get("X-Quota-Remaining")
        patch_box = parse_box(resp.headers.get("X-Patch-Box")) if answer == "patch" else None
        return TintResult(jpeg=resp.content if answer == "full" else None, faces=int(resp.headers.get("X-Faces", "0")),
                          boxes=boxes, server_ms=float(resp.headers.get("X-Processing-Ms", "nan")),
                          quota_remaining=int(remaining) if remaining is not None else None,
                          track_state=resp.headers.get("X-Track-State"), latency_ms=latency, retries=retries,
                          answer=answer, patch=resp.content if answer == "patch" and patch_box else None,
                          patch_box=patch_box, bytes_up=len(body), bytes_down=len(resp.content), sent=body,
                          frame=image if isinstance(image, np.ndarray) else None)

    def landmarks(self, image: Image, *, min_face: int | None = None) -> LandmarksResult:
        body, content_type = _encode(image)
        params = {"min_face": min_face} if min_face is not None else {}
        resp, _, _ = self._send("POST", "/v1/landmarks", params, {"Content-Type": content_type}, body, None)
        doc = resp.json()
        return LandmarksResult(width=doc["width"], height=doc["height"], faces=doc["faces"])

    def usage(self) -> dict[str, Any]:
        resp, _, _ = self._send("GET", "/v1/usage", {}, {}, None, None)
        return resp.json()

    # ------------------------------------------------------------------ transport
    def _send(self, method: str, path: str, params: dict, headers: dict, body: bytes | None,
              idempotency_key: str | None):
        """One logical request: retried on 429 (honouring Retry-After; without one, API Gateway's throttle,
        with backoff), 502/503/504 and connection errors, every
        attempt with the same Idempotency-Key so that the API counts it once."""
        headers = {**headers, "x-api-key": self._key}
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or uuid.uuid4().hex
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                resp = self.session.request(method, self.api_url + path, params=params, headers=headers, data=body,
                                            timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self.retries:
                    raise ConnectionFailed(0, "connection_failed",
                                           f"cannot reach the API at {self.api_url}: {type(exc).__name__}") from None
                self._sleep(attempt, None)
                attempt += 1
                continue
            latency = (time.perf_counter() - started) * 1000
            if resp.ok:
                return resp, latency, attempt
            retry_after = _retry_after(resp)
            # a 429 without Retry-After is API Gateway's rate throttle (backed off like a 503); the API's own
            # 429 (the monthly quota) says when it resets, which is retried only when that is soon
            retryable = resp.status_code in (502, 503, 504) or (
                resp.status_code == 429 and (retry_after is None or retry_after <= self.max_retry_wait))
            if not retryable or attempt >= self.retries:
                raise _as_error(resp, retry_after)
            self._sleep(attempt, retry_after)
            attempt += 1

    def _sleep(self, attempt: int, retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else self.backoff * (2 ** attempt) * (0.5 + random.random())
        time.sleep(min(delay, self.max_retry_wait))


def _retry_after(resp: requests.Response) -> float | None:
    try:
        return float(resp.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _as_error(resp: requests.Response, retry_after: float | None) -> ApiError:
    try:
        doc = resp.json()
        code, message = doc.get("code", f"http_{resp.status_code}"), doc.get("message", resp.reason)
    except ValueError:
        code, message = f"http_{resp.status_code}", resp.reason or "error"
    return _error_for(resp.status_code)(resp.status_code, code, message, retry_after)


def _encode(image: Image) -> tuple[bytes, str]:
    if isinstance(image, np.ndarray):
        import cv2
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise ValueError("the image array could not be encoded as JPEG")
        return buf.tobytes(), "image/jpeg"
    data = bytes(image)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return data, "image/png"
    return data, "image/jpeg"
