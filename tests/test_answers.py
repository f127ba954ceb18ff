"""chalicelib/answers.py: choosing the answer format, and the patch (only the tinted lips, WebP with
alpha) that drawn over the frame as sent gives back the tinted frame."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from chalicelib import answers, imaging, lipstick, options, pipeline, tracking
from chalicelib.errors import NotAcceptable, OutputTooLarge
from chalicelib.lipstick import TintedRegion
from tests.colour import box_slices, ciede2000, mean_delta_e
from tests.conftest import read
from tintcam_client.patch import composite


def tinted_photo(name: str, settings, **params):
    """(frame as decoded, tinted frame, regions, options) through the pipeline's own steps."""
    opts = options.parse({"min_face": "40", **params}, settings)
    data = read(name)
    original = imaging.decode(data, imaging.probe(data, settings))
    faces, _, _ = tracking.follow(original, None, opts.min_face, pipeline.model_file(settings))
    tinted = original.copy()
    regions = lipstick.apply(tinted, [f.points for f in faces], opts.color, opts.intensity)
    return original, tinted, regions, opts


def decode_rgba(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    assert img.format == "WEBP" and img.mode == "RGBA"
    return np.asarray(img)


def test_ciede2000_matches_sharmas_test_data():
    pairs = [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425), ((50, -1.3802, -84.2814), (50, 0, -82.7485), 1.0),
             ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
             ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
             ((50, 2.5, 0), (73, 25, -18), 27.1492), ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082)]
    for lab1, lab2, expected in pairs:
        assert float(ciede2000(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("name,faces", [("Tom_Cruise_avp_2014_4.jpg", 1), ("2008_007676.jpg", 7)])
def test_the_patch_drawn_over_the_frame_is_the_tinted_frame(settings, name, faces):
    original, tinted, regions, _ = tinted_photo(name, settings, color="2040d0", intensity="1")
    assert len(regions) == faces
    rgba, box = answers.patch_pixels(tinted, original, regions)
    x0, y0, x1, y1 = answers.union_box(regions)
    assert box == (x0, y0, x1 - x0, y1 - y0) and rgba.shape == (y1 - y0, x1 - x0, 4)
    # every region lies inside the box, and nothing outside it was tinted
    outside = np.ones(original.shape[:2], bool)
    outside[box_slices(box)] = False
    assert np.array_equal(tinted[outside], original[outside])
    # exact colour and alpha: the composite is the tinted frame to within a rounding step
    drawn = composite(original, rgba, box)
    assert np.abs(drawn.astype(int) - tinted).max() <= 1
    # alpha is the tint's own mask (8 bits): zero where the mask is zero, the mask's weight elsewhere
    weight = np.zeros(rgba.shape[:2], np.float32)
    for r in regions:
        sub = weight[r.rows.start - y0:r.rows.stop - y0, r.cols.start - x0:r.cols.stop - x0]
        np.maximum(sub, r.mask, out=sub)
    alpha = rgba[..., 3].astype(int)
    assert not alpha[weight == 0].any()
    assert np.mean(np.abs(alpha - np.rint(weight * 255)) <= 1) > 0.98
    # the lips' inside is opaque, the rim feathered (the group photo's lips are 2-4 px tall: mostly rim)
    assert (alpha == 255).sum() > 0.2 * (alpha > 0).sum()


@pytest.mark.parametrize("finish", [{"finish": "matte"}, {"finish": "gloss", "shimmer": "1"}])
def test_every_finish_comes_back_exactly_through_the_patch(settings, finish):
    """Gloss highlights and shimmer change pixels by more than the colour does: the patch still carries them."""
    original, tinted, regions, _ = tinted_photo("Tom_Cruise_avp_2014_4.jpg", settings, **finish)
    rgba, box = answers.patch_pixels(tinted, original, regions)
    assert np.abs(composite(original, rgba, box).astype(int) - tinted).max() <= 1


def test_alpha_is_raised_where_a_pixel_changed_more_than_its_mask_says(settings):
    """If a tint changed a pixel with mask 0 (or more than its weight carries), the patch still gives it back."""
    original = np.full((40, 60, 3), 100, np.uint8)
    tinted = original.copy()
    tinted[10:20, 10:30] = (200, 40, 60)
    mask = np.zeros((30, 40), np.float32)
    mask[5:10, 5:20] = 0.1    # covers only part of what changed, with a weight too small to carry it
    rgba, box = answers.patch_pixels(tinted, original, [TintedRegion(mask, slice(5, 35), slice(5, 45))])
    assert box == (5, 5, 40, 30)
    assert np.abs(composite(original, rgba, box).astype(int) - tinted).max() <= 1


def test_nothing_tinted_is_a_204_without_body(settings):
    original, tinted, regions, opts = tinted_photo("dogs.jpg", settings)
    assert regions == [] and answers.patch_pixels(tinted, original, regions) is None
    encoded = answers.patch(tinted, original, regions, opts, settings)
    assert (encoded.status, encoded.body, encoded.headers) == (204, b"", {})


def test_the_webp_patch_keeps_alpha_exactly_and_the_colour_close(settings):
    original, tinted, regions, opts = tinted_photo("Tom_Cruise_avp_2014_4.jpg", settings)
    encoded = answers.patch(tinted, original, regions, opts, settings)
    assert encoded.status == 200 and encoded.media_type == "image/webp"
    box = tuple(int(v) for v in encoded.headers["X-Patch-Box"].split(","))
    exact, _ = answers.patch_pixels(tinted, original, regions)
    sent = decode_rgba(encoded.body)
    assert np.array_equal(sent[..., 3], exact[..., 3])       # the mask travels losslessly
    drawn = composite(original, sent, box)[box_slices(box)]
    de2000, _ = mean_delta_e(drawn, tinted[box_slices(box)])
    assert de2000 < 1.0                                       # lossy colour, well under a visible difference
    assert len(encoded.body) < 0.1 * len(answers.full_frame(tinted, None, regions, opts, settings).body)


def test_the_full_answer_is_the_jpeg_it_always_was(settings):
    original, tinted, regions, opts = tinted_photo("Tom_Cruise_avp_2014_4.jpg", settings)
    encoded = answers.full_frame(tinted, None, regions, opts, settings)
    assert (encoded.status, encoded.media_type, encoded.headers) == (200, "image/jpeg", {})
    assert encoded.body == imaging.encode(tinted, opts.quality, settings)


def test_webp_over_the_size_limit_steps_quality_down_then_refuses(settings):
    from dataclasses import replace
    noise = np.random.default_rng(3).integers(0, 256, (300, 300, 4), dtype=np.uint8)
    noise[..., 3] = 255
    full = len(imaging.encode_webp(noise, 95, settings))
    smaller = imaging.encode_webp(noise, 95, replace(settings, max_output_bytes=full - 1))
    assert len(smaller) < full
    with pytest.raises(OutputTooLarge):
        imaging.encode_webp(noise, 95, replace(settings, max_output_bytes=500))


@pytest.mark.parametrize("answer,accept,expected", [
    ("full", "image/jpeg", "image/jpeg"), ("full", "image/jpg, */*", "image/jpeg"),
    ("full", "IMAGE/JPEG;q=1", "image/jpeg"), ("patch", "image/webp", "image/webp"),
    ("patch", "image/webp, image/jpeg", "image/webp"),
])
def test_negotiate_by_answer_and_first_accept_value(answer, accept, expected):
    assert answers.negotiate(answer, accept).media_type == expected


@pytest.mark.parametrize("answer,accept,says", [
    ("full", "image/webp", "add answer=patch"), ("full", "image/webp, image/jpeg", "add answer=patch"),
    ("patch", "image/jpeg", "send 'Accept: image/webp'"), ("patch", "image/jpeg, image/webp", "got 'image/jpeg'"),
    ("patch", None, "got no Accept header"), ("full", "*/*", "send 'Accept: image/jpeg'"),
])
def test_mismatched_accept_is_a_406_saying_what_to_send(answer, accept, says):
    with pytest.raises(NotAcceptable) as err:
        answers.negotiate(answer, accept)
    assert err.value.status == 406 and says in err.value.message
