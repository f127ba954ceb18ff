"""chalicelib/imaging.py: header-first limits, every accepted image kind decoded upright, bounded output."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from chalicelib import imaging
from chalicelib import settings as settings_module
from chalicelib.errors import (EmptyBody, ImageTooLarge, InvalidImage, OutputTooLarge, PayloadTooLarge,
                               UnsupportedMediaType)
from tests.conftest import jpeg_bytes, read


@pytest.fixture(scope="module")
def photo():
    return np.asarray(Image.open(io.BytesIO(read("2008_001322.jpg"))).convert("RGB"))


def save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def roundtrip(data: bytes, settings) -> np.ndarray:
    return imaging.decode(data, imaging.probe(data, settings))


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def test_request_checks_come_first(settings):
    with pytest.raises(UnsupportedMediaType):
        imaging.check_request(b"x", "text/plain", settings)
    with pytest.raises(UnsupportedMediaType):
        imaging.check_request(b"x", None, settings)
    with pytest.raises(EmptyBody):
        imaging.check_request(b"", "image/jpeg", settings)
    small = settings_module.load({"TINTCAM_MAX_BODY_BYTES": "10"})
    with pytest.raises(PayloadTooLarge):
        imaging.check_request(b"x" * 11, "image/jpeg; charset=binary", small)
    assert imaging.check_request(b"x" * 10, "IMAGE/JPG", small) == b"x" * 10


def test_baseline_progressive_grey_cmyk_jpegs_decode(photo, settings):
    img = Image.fromarray(photo)
    for data in (save(img, "JPEG", quality=95), save(img, "JPEG", quality=95, progressive=True)):
        out = roundtrip(data, settings)
        assert out.shape == photo.shape and np.abs(out.astype(int) - photo).mean() < 4
    grey = roundtrip(save(img.convert("L"), "JPEG", quality=95), settings)
    assert grey.shape == photo.shape and np.array_equal(grey[..., 0], grey[..., 2])
    cmyk = roundtrip(save(img.convert("CMYK"), "JPEG", quality=95), settings)
    assert cmyk.shape == photo.shape and np.abs(cmyk.astype(int) - photo).mean() < 8


def test_pngs_of_every_depth_and_alpha_decode(photo, settings):
    img = Image.fromarray(photo)
    assert np.array_equal(roundtrip(save(img, "PNG"), settings), photo)
    rgba = img.convert("RGBA")
    rgba.putalpha(255)
    assert np.array_equal(roundtrip(save(rgba, "PNG"), settings), photo)
    transparent = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    assert (roundtrip(save(transparent, "PNG"), settings) == 255).all()  # composited over white
    grey16 = np.asarray(img.convert("L")).astype(np.uint16) * 257
    out = roundtrip(save(Image.fromarray(grey16), "PNG"), settings)
    assert np.array_equal(out[..., 0], np.asarray(img.convert("L")))
    palette = roundtrip(save(img.convert("P"), "PNG"), settings)
    assert palette.shape == photo.shape


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_pillow(photo, settings, orientation):
    img = Image.fromarray(photo)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = save(img, "JPEG", quality=95, exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    found = imaging.probe(data, settings)
    assert found.orientation == orientation
    assert (found.height, found.width) == expected.shape[:2]
    out = imaging.decode(data, found)
    assert out.flags["C_CONTIGUOUS"]
    assert np.abs(out.astype(int) - expected).mean() < 1.0


def test_broken_inputs_are_invalid_image(photo, settings):
    good = jpeg_bytes(photo)
    for bad in (b"\xff\xd8\xff" + b"\x00" * 50, good[: len(good) // 2], b"random bytes" * 20,
                b"\x89PNG\r\n\x1a\n" + b"\x00" * 40):
        with pytest.raises(InvalidImage):
            roundtrip(bad, settings)


@pytest.mark.parametrize("fmt,kind", [("GIF", "GIF"), ("WEBP", "WEBP"), ("TIFF", "TIFF"), ("BMP", "BMP")])
def test_other_formats_are_415_naming_the_format(photo, settings, fmt, kind):
    data = save(Image.fromarray(photo[:50, :50]), fmt)
    with pytest.raises(UnsupportedMediaType, match=kind):
        imaging.probe(data, settings)


def test_png_bomb_is_refused_from_its_header(settings):
    ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 10_000)
    bomb = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    assert len(bomb) < 500
    with pytest.raises(ImageTooLarge, match="60000x60000"):
        imaging.probe(bomb, settings)


def test_pixel_and_side_limits_use_the_header(settings):
    wide = save(Image.new("RGB", (9000, 4)), "JPEG")
    with pytest.raises(ImageTooLarge, match="longest side"):
        imaging.probe(wide, settings)
    tight = settings_module.load({"TINTCAM_MAX_PIXELS": "100"})
    with pytest.raises(ImageTooLarge, match="pixels"):
        imaging.probe(save(Image.new("RGB", (11, 10)), "JPEG"), tight)
    assert imaging.probe(save(Image.new("RGB", (10, 10)), "JPEG"), tight).width == 10


def test_one_pixel_image_decodes(settings):
    assert roundtrip(save(Image.new("RGB", (1, 1), (9, 200, 30)), "PNG"), settings).shape == (1, 1, 3)


def test_output_is_shrunk_to_fit_or_refused(settings):
    noise = np.random.default_rng(0).integers(0, 256, size=(400, 400, 3), dtype=np.uint8)
    full = imaging.encode(noise, 95, settings)
    limited = settings_module.load({"TINTCAM_MAX_OUTPUT_BYTES": str(len(full) // 2)})
    assert len(imaging.encode(noise, 95, limited)) <= len(full) // 2
    tiny = settings_module.load({"TINTCAM_MAX_OUTPUT_BYTES": "1000"})
    with pytest.raises(OutputTooLarge):
        imaging.encode(noise, 95, tiny)
