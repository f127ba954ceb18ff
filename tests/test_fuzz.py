"""Property-based fuzzing (hypothesis) of the request parsing and image decoding entry points: whatever
comes in, the only exceptions are tintcam's own errors (which become 4xx/503 answers), never a crash.

Bounded in CI; for a longer run: TINTCAM_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest tests/test_fuzz.py
"""
from __future__ import annotations

import io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st
from PIL import Image

from chalicelib import imaging, metering, options, tracking
from chalicelib import settings as settings_module
from chalicelib.errors import TintcamError
from tests.conftest import JPEG_HEADERS

EXAMPLES = int(os.environ.get("TINTCAM_FUZZ_EXAMPLES", "150"))
FUZZ = hyp_settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("TINTCAM_FUZZ_RANDOM"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
SETTINGS = settings_module.load({})


def _seed_images() -> list[bytes]:
    rng = np.random.default_rng(7)
    img = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    out = []
    for fmt, kw in (("JPEG", {}), ("JPEG", {"progressive": True}), ("PNG", {})):
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        out.append(buf.getvalue())
    buf = io.BytesIO()
    img.convert("CMYK").save(buf, "JPEG")
    out.append(buf.getvalue())
    return out


SEEDS = _seed_images()


@st.composite
def mutated_images(draw):
    """Valid JPEG/PNG files with bytes flipped, cut, or spliced: close enough to get past the header."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "zero"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 200))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            data[at:at + 4] = b"\x00\x00\x00\x00"
        if not data:
            data = bytearray(b"\xff")
    return bytes(data)


def decode_or_refuse(data: bytes, content_type: str) -> None:
    try:
        body = imaging.check_request(data, content_type, SETTINGS)
        found = imaging.probe(body, SETTINGS)
        rgb = imaging.decode(body, found)
    except TintcamError as err:
        assert 400 <= err.status < 500 and err.code and err.message
        return
    assert rgb.dtype == np.uint8 and rgb.shape == (found.height, found.width, 3)


@FUZZ
@given(st.binary(max_size=4096), st.sampled_from(["image/jpeg", "image/png", "text/plain", None, "image/jpeg; x=1"]))
def test_arbitrary_bytes_are_decoded_or_refused(data, content_type):
    decode_or_refuse(data, content_type)


@FUZZ
@given(mutated_images())
def test_damaged_images_are_decoded_or_refused(data):
    decode_or_refuse(data, "image/jpeg")


@FUZZ
@given(st.dictionaries(st.sampled_from(list(options.ALLOWED) + ["x", "colour", ""]),
                       st.text(max_size=40), max_size=5))
def test_query_parameters_parse_or_are_refused(params):
    try:
        opts = options.parse(params, SETTINGS)
    except TintcamError as err:
        assert err.status == 400 and err.param is not None
        return
    assert 0 <= opts.intensity <= 1 and SETTINGS.min_quality <= opts.quality <= SETTINGS.max_quality
    assert all(0 <= c <= 255 for c in opts.color)


@FUZZ
@given(st.text(max_size=600) | st.binary(max_size=600).map(lambda b: b.decode("latin-1")),
       st.integers(1, 4000), st.integers(1, 4000))
def test_tracking_states_are_trusted_only_when_signed(token, width, height):
    assert tracking.decode(token, SETTINGS, width, height) is None


@FUZZ
@given(st.text(max_size=300))
def test_api_keys_are_checked_without_surprises(key):
    meter = metering.get_meter(settings_module.get())
    try:
        meter.authenticate(key)
    except TintcamError as err:
        assert err.status in (401, 403) and (len(key) < 8 or key not in err.message)
        return
    pytest.fail("a random string was accepted as a key")


@FUZZ
@given(body=st.binary(max_size=2048) | mutated_images(),
       query=st.dictionaries(st.sampled_from(list(options.ALLOWED) + ["zzz"]), st.text(
           st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=12), max_size=3),
       track=st.none() | st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=300))
def test_whole_route_never_answers_5xx(client, body, query, track):
    from urllib.parse import urlencode
    headers = dict(JPEG_HEADERS)
    if track is not None:
        headers["X-Track-State"] = track
    resp = client.http.post("/v1/tint?" + urlencode(query), body=body, headers=headers)
    assert resp.status_code < 500, resp.body
    if resp.status_code >= 400:
        assert resp.headers["Content-Type"] == "application/json"
