"""The tint: the lips in the shade's own colour, with their texture, in a finish.

Where: ``lipmask.find`` (the lips' real edge, a soft weight; teeth, tongue and skin stay out).
How, in CIE L*a*b*, per face: the lips' lightness is split into its shading (a blur: the lips' shape and
light) and its fine detail (what is left: lines, grain, small highlights). At intensity 1 the lips take
the shade's own colour: their mean lightness becomes the shade's (a dark shade darkens light lips, a
light shade lightens dark lips), a* and b* the shade's, and the shading and fine detail ride on top
(their contrast scaled as light scales a surface's colour, halfway), so the lips keep their texture.
``intensity`` moves every pixel that fraction of the way, times the mask's weight (0: untouched).

A finish (``FINISHES``) changes only how the light sits on the colour:
- satin (default): the lips' own shading and detail, as they are;
- matte: fine detail and highlights damped, shading flattened, so the colour reads even and velvety;
- gloss: the lips' bright areas lifted and sharpened, plus a wet highlight along the middle of the lower
  lip (and a smaller one on the upper lip), placed from the lip points and the image, so it stays on the
  lips from frame to frame; highlights lose chroma, as reflected light does.
``shimmer`` (0..1) adds fine sparkle fixed to the lips (it moves with them, it does not flicker).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import lipmask
from .colour import lab_to_rgb, rgb_to_lab  # noqa: F401  (rgb_to_lab: part of this module's interface)

FINISHES = ("satin", "matte", "gloss")   # the first is the default
DEFAULT_FINISH = FINISHES[0]
SHADING_BLUR = 0.03       # the shading/detail split: a blur this wide, in mouth widths
CONTRAST_RANGE = (0.8, 1.25)   # the lips' light and shade scale by no less / no more than this


@dataclass(frozen=True)
class Finish:
    """How light sits on the colour: multipliers of the lips' shading and fine detail (bright and dark
    parts apart), and the gloss highlight's height in L*."""
    shading: float
    detail_bright: float
    detail_dark: float
    gloss: float = 0.0


FINISH = {
    "matte": Finish(shading=0.75, detail_bright=0.35, detail_dark=0.6),
    "satin": Finish(shading=1.0, detail_bright=1.0, detail_dark=1.0),
    "gloss": Finish(shading=1.0, detail_bright=1.1, detail_dark=1.0, gloss=22.0),
}


@dataclass(frozen=True)
class Look:
    """What to put on the lips: the shade (sRGB), how much (0..1), the finish and the shimmer (0..1)."""
    color: tuple[int, int, int]
    intensity: float
    finish: str = DEFAULT_FINISH
    shimmer: float = 0.0


@dataclass(frozen=True)
class TintedRegion:
    """Where one face's tint went: ``mask`` (float32 0..1, the weight the tint was applied with) over the
    frame's ``rows`` x ``cols`` (slices). Pixels outside the mask are untouched. ``face``: the face's index
    in the list tinted; ``edge``: where its mask put the lips' edge (lipmask.Edge packed), for the video's
    next frame."""
    mask: np.ndarray
    rows: slice
    cols: slice
    face: int = 0
    edge: bytes = b""


@lru_cache(maxsize=64)
def _target_lab(color: tuple[int, int, int]) -> np.ndarray:
    lab = rgb_to_lab(np.array(color, dtype=np.uint8))
    lab.flags.writeable = False   # shared by every call with this shade
    return lab


def shading(lightness: np.ndarray, mouth_width: float) -> np.ndarray:
    """The lips' shading: their lightness blurred (two box passes, about SHADING_BLUR mouth widths)."""
    radius = max(1, int(round(SHADING_BLUR * mouth_width / 2)))
    return lipmask.box_mean(lipmask.box_mean(lightness, radius), radius)


def _contrast(target_l: float, mean_l: float) -> np.float32:
    """How much the lips' light and shade scale when their mean lightness becomes the shade's: light is a
    multiplier on a surface's colour (L* + 16 goes as its cube root), so a darker shade shows the same
    shading with less L* contrast and a lighter one with more; halfway to that and within CONTRAST_RANGE,
    so a dark shade keeps the lips' texture readable."""
    return np.float32(min(max(np.sqrt((target_l + 16) / max(mean_l + 16, 1.0)), CONTRAST_RANGE[0]), CONTRAST_RANGE[1]))


def _mouth_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The mouth's centre, its unit axis along the corners (point 48 to 54) and its width."""
    left, right = points[48].astype(np.float64), points[54].astype(np.float64)
    axis = right - left
    width = float(np.hypot(*axis)) or 1.0
    return (left + right) / 2, axis / width, width


def _mean(values: np.ndarray) -> float:
    """``float(values.mean())`` of a float32 vector, the same number (its float32 sum over the count, in
    double, rounded to float32) without .mean()'s overhead."""
    return float(np.float32(float(values.sum()) / len(values)))


def mouth_coordinates(points: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``xy`` (n, 2) in the mouth's own axes: u along the corners (-1 at point 48, 1 at 54), v
    across them in mouth widths (down positive). What is placed in u, v moves with the lips."""
    centre, along, width = _mouth_axes(points)
    return _in_mouth_axes(xy - centre, along, width)


def _box_mouth_coordinates(points: np.ndarray, rows: slice, cols: slice, at: np.ndarray):
    """``mouth_coordinates`` of the pixels ``at`` (flat indices) of the frame's box ``rows`` x ``cols``
    (the same products; the offsets from the mouth's centre taken per column and per row)."""
    centre, along, width = _mouth_axes(points)
    y, x = np.divmod(at, cols.stop - cols.start)
    d = np.empty((len(at), 2))
    d[:, 0] = (np.arange(cols.start, cols.stop, dtype=np.float64) - centre[0])[x]
    d[:, 1] = (np.arange(rows.start, rows.stop, dtype=np.float64) - centre[1])[y]
    return _in_mouth_axes(d, along, width)


def _in_mouth_axes(d: np.ndarray, along: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets ``d`` (n, 2) from the mouth's centre as (u, v): along its ``along`` axis in half widths, across it
    in widths."""
    return ((d @ along) * (2 / width)).astype(np.float32), ((d @ np.array([-along[1], along[0]])) / width).astype(np.float32)


_LOWER_OUTER = [48, 59, 58, 57, 56, 55, 54]
_LOWER_INNER = [48, 60, 67, 66, 65, 64, 54]
_UPPER_OUTER = [48, 49, 50, 51, 52, 53, 54]
_UPPER_INNER = [48, 60, 61, 62, 63, 64, 54]
_EDGES = np.array([_LOWER_OUTER, _LOWER_INNER, _UPPER_OUTER, _UPPER_INNER])
_EDGE_ROWS = np.arange(len(_EDGES))[:, None]


def _lip_bands(points: np.ndarray, u: np.ndarray, v: np.ndarray):
    """For pixels at mouth coordinates (u, v): how far across the lower lip (0 at the mouth's opening,
    1 at its outer edge) and across the upper lip (0 at its outer edge, 1 at the opening)."""
    pu, pv = mouth_coordinates(points, points.astype(np.float64))
    order = np.argsort(pu[_EDGES], axis=1)                  # each edge's points from left to right
    eu, ev = pu[_EDGES[_EDGE_ROWS, order]], pv[_EDGES[_EDGE_ROWS, order]]
    at = u.astype(np.float64)      # (once: np.interp would convert it on each call)
    lower_outer, lower_inner, upper_outer, upper_inner = (np.interp(at, eu[k], ev[k]).astype(np.float32)
                                                          for k in range(len(_EDGES)))
    lower = (v - lower_inner) / np.maximum(lower_outer - lower_inner, 1e-3)
    upper = (v - upper_outer) / np.maximum(upper_inner - upper_outer, 1e-3)
    return lower, upper


_GLOSS_FROM_TO = (60, 99)     # the lips' own bright areas: from this percentile of their shading, all at that


def _percentiles(values: np.ndarray, percents) -> list:
    """np.percentile(values, percents) of a float32 vector (its linear method and the same arithmetic:
    the same numbers) by one partial sort around the wanted places (np.percentile's overhead is most of
    its cost on a face's lips)."""
    last = len(values) - 1
    places = [(last * (p / 100), int(last * (p / 100))) for p in percents]     # (where, the rank below)
    ranked = np.partition(values, sorted({min(k + j, last) for _, k in places for j in (0, 1)}))
    out = []
    for place, k in places:
        if k >= last:
            out.append(np.float64(ranked[last]))
            continue
        a, b, t = ranked[k], ranked[k + 1], np.float64(place - k)
        out.append(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)
    return out


def _gloss_light(points: np.ndarray, u: np.ndarray, v: np.ndarray, base: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Where a glossy lip catches the light (0..1): the middle of the lower lip and the ridge of the upper
    lip (placed from the lip points), and the lips' own bright areas (from their shading ``base``; ``core``
    its values inside the lips)."""
    lower, upper = _lip_bands(points, u, v)
    placed = np.maximum(np.exp(-((lower - 0.45) * 5) ** 2 - (u * 2.4) ** 2),
                        0.55 * np.exp(-((upper - 0.3) * 5) ** 2 - (np.abs(u) - 0.28) ** 2 * 25))
    low, high = _percentiles(core, _GLOSS_FROM_TO)
    own = np.minimum(np.maximum((base - low) / max(high - low, 1.0), 0.0), 1.0) ** 1.5
    return np.maximum(placed, own)


def _sparkle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Fine glitter (0..1) fixed to the lips: a hash of cells in mouth coordinates, so each sparkle
    moves with the lips and stays lit from frame to frame."""
    cells = 55.0                                    # cells across half the mouth: about 1.2 px on a 130 px mouth
    noise = np.sin(np.floor(u * cells) * 12.9898 + np.floor(v * (2 * cells)) * 78.233) * 43758.5453
    noise -= np.floor(noise)
    return np.minimum(np.maximum((noise - 0.9) * 10, 0.0), 1.0) ** 2


_PIXEL = np.dtype((np.void, 3))    # an RGB pixel's three bytes as one item


def tint(rgb: np.ndarray, mask: lipmask.LipMask, points: np.ndarray, look: Look) -> np.ndarray:
    """The tinted pixels of ``mask``'s box (a new uint8 array; pixels of weight 0 are copied)."""
    out = rgb[mask.rows, mask.cols].copy()
    touched = np.flatnonzero(mask.weight != 0)                # (a bool array's nonzero costs a fifth of a float's)
    if not touched.size:
        return out
    finish = FINISH[look.finish]
    target = _target_lab(look.color)
    lab = mask.lab.reshape(-1, 3).take(touched, axis=0)      # (take: a fifth of fancy indexing's cost)
    w = mask.weight.ravel().take(touched)
    core = w >= 0.5
    lightness = lab[:, 0]
    if finish.shading == finish.detail_bright == finish.detail_dark == 1 and not finish.gloss:
        mean_l = _mean(lightness[core] if core.any() else lightness)
        contrast = _contrast(target[0], mean_l)
        new_l = target[0] + contrast * (lightness - np.float32(mean_l))   # the lips' own light, at the shade's level
    else:
        mouth_width = float(np.hypot(*(points[54] - points[48])))
        base = shading(mask.lab[..., 0], mouth_width).ravel().take(touched)
        inside = base[core] if core.any() else base          # (the gloss reads it too)
        mean_l = _mean(inside)
        contrast = _contrast(target[0], mean_l)
        detail = (lightness - base) * contrast
        detail *= np.where(detail > 0, np.float32(finish.detail_bright), np.float32(finish.detail_dark))
        new_l = target[0] + (finish.shading * contrast) * (base - mean_l) + detail
    chroma = None
    if finish.gloss or look.shimmer:
        u, v = _box_mouth_coordinates(points, mask.rows, mask.cols, touched)
        light = None
        if finish.gloss:
            shine = _gloss_light(points, u, v, base, inside)
            shine = shine * shine * (3 - 2 * shine)            # a crisper edge to the highlight
            light = (finish.gloss * shine * (1 + np.minimum(np.maximum(detail, -4), 4) / 12)).astype(np.float32)
        if look.shimmer:
            sparkle = 30.0 * look.shimmer * _sparkle(u, v)
            light = sparkle if light is None else light + sparkle
        new_l = new_l + light
        chroma = np.minimum(np.maximum(1 - light / 45.0, 0.35), 1.0)   # reflected light is the light's colour
    k = np.float32(look.intensity) * w
    lab[:, 0] += k * (np.minimum(np.maximum(new_l, 0.0), 100.0) - lightness)
    for c in (1, 2):              # (channel by channel: broadcasting over a last axis of two costs four times more)
        lab[:, c] += k * ((target[c] if chroma is None else target[c] * chroma) - lab[:, c])
    out.view(_PIXEL).reshape(-1)[touched] = lab_to_rgb(lab).view(_PIXEL).reshape(-1)   # (whole pixels: half the cost)
    return out


def apply(rgb: np.ndarray, faces_points: list[np.ndarray], color: tuple[int, int, int], intensity: float,
          finish: str = DEFAULT_FINISH, shimmer: float = 0.0,
          before: Sequence[tuple[np.ndarray, bytes] | None] = ()) -> list[TintedRegion]:
    """Tint the lips of every face, in place. Returns where the tint went, one region per face tinted.
    ``before``: in video, for each face (in order), the lip points (48..67) and the region's ``edge`` of
    its mask in the previous frame, or None; the mask's edge then stays steady where it only wavers."""
    if intensity <= 0:
        return []
    if finish not in FINISH:
        raise ValueError(f"unknown finish {finish!r}")
    look = Look(color=tuple(color), intensity=float(intensity), finish=finish, shimmer=float(shimmer))
    regions = []
    for face, points in enumerate(faces_points):
        was = before[face] if face < len(before) else None
        mask = lipmask.find(rgb, points, before=None if was is None else
                            lipmask.Edge.unpack(lipmask.LipContour.of_68(was[0]), was[1]))
        if mask is None:
            continue
        rgb[mask.rows, mask.cols] = tint(rgb, mask, points, look)
        regions.append(TintedRegion(mask=mask.weight, rows=mask.rows, cols=mask.cols, face=face,
                                    edge=b"" if mask.edge is None else mask.edge.pack()))
    return regions
