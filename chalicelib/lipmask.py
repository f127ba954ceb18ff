"""The lip mask: where one face's lips really are, as a soft weight over their bounding box.

The 68-point model gives twelve points around the lips and eight around the mouth's opening; their
polygon cuts corners and misses the lips' curve. Those points, or another landmark model's, come in as a
``LipContour`` (four chains between the mouth's corners). The mask is built in four named steps:

1. ``outlines``: smooth closed curves through those points (centripetal Catmull-Rom: no cusps, no
   overshoot; sharp only at the mouth's corners), sampled about every pixel;
2. ``skin_model``: the face's own lip colour against its skin colour, sampled along the outline's
   normals (inside against outside), as a linear discriminant in L*a*b*; it has a say in the edge as
   far as it tells them apart (none below MIN_SEPARATION, all from SURE_SEPARATION, gradually between);
3. ``snap``: every outline point moves along its normal, a few pixels at most, to where the lip colour
   ends (the best split of the colour evidence, with a cost for moving away from the landmarks): halfway
   between the lips' colour just inside and the skin's just outside that point (``_Profile``), where a
   blurred step is halfway up, so pale lips, or lips lit more on one side of the mouth, are followed to
   their own edge; the moves are smoothed along the outline, so the edge stays a smooth curve; when the mouth is open,
   its opening is snapped the same way against the teeth and the mouth's inside (the opening counts in
   part while it is barely open, so the mask does not jump when the lips part);
4. ``with_soft_edge``: the snapped lips filled with 4x4 supersampling (an anti-aliased, sub-pixel edge,
   exact on every side) with a soft edge outward as far as the lips' own colour goes on along each
   normal (never onto skin, teeth or a moustache), the open mouth cut out.

In video, ``find`` takes the previous frame's ``Edge`` (kept in the tracking state): each edge point
moves from where that edge lies toward its own snapped place by a share that grows with the distance,
so the noise of the colour and of the landmarks is damped on steady frames while real movement is
followed (``_steadied``).

Numpy and Pillow only (they ship to Lambda); a 200 px face costs about a millisecond.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from .colour import rgb_to_lab

SUPERSAMPLE = 4          # the fill's sub-pixel grid (4 x 4 samples a pixel)
REACH = 0.04             # how far the colour may move the outline, in mouth widths (3.6 px on a 90 px mouth)
SPACING = 20.0           # outline points between two of the 68 points: one per SPACING px of mouth width
EDGE = 0.5               # the lip edge: where the colour is this far from the skin's toward the lips' (around it)
LIP_SIDE = 0.44          # how much a colour is the lips' own (the soft edge): all from this far (as EDGE) ...
LIPNESS_FROM = 0.15      # ... nothing below this
SOFT_EDGE_PX = 2         # the soft edge goes outward as far as the lips' own colour goes on, up to this (px) ...
SOFT_EDGE_WEIGHT = 0.75  # ... at this weight over its inner SOFT_EDGE_INNER, half of it beyond
SOFT_EDGE_INNER = 0.85
EVIDENCE = 12.0          # colour evidence is clipped to +-EVIDENCE per sample
PLATEAU_SMOOTH = 3.0     # the lips' and the skin's colour either side of the outline: smoothed along it
LOCAL_CONTRAST = (0.2, 0.5)  # (samples), trusted from this difference (in lip-to-skin scores) to this
STAY = 7.0               # the cost of moving the whole reach, in units of clipped evidence over the reach
SMOOTH = 1.5             # smoothing of the moves along the outline, in samples (Gaussian sigma)
OPEN_MOUTH = 0.035       # the mouth is open (teeth may show) when its opening is this tall, in mouth widths ...
OPENING_FROM = 0.02      # ... and partly open from this height (its opening cut out in part: no jump at the line)
SNAP_OPEN = 0.5          # the opening is snapped (in part) once the mouth is this open (between the two above)
MIN_SEPARATION = 2.0     # lips and skin must be this separable (Fisher's criterion) for the colour to count ...
SURE_SEPARATION = 5.0    # ... and count fully from this (in between, the colour's moves and soft edge in part)
FIRST_SEPARATION = (0.25, 1.0)   # the first fit, before the samples are sorted: from no say to a full say
OPENING_SIDE = 1.0       # the opening's edge: where the lips are this much (log-likelihood) likelier than the mouth
SHADOW_DARKER = 35.0     # the open mouth's shadows: this much darker (L*) than the lips ...
SHADOW_SPREAD = 15.0     # ... give or take this much
GAP_PX = 1                # a closed mouth's dark gap is looked for this far either side of the lips' line
GAP_DARKER = (0.6, 0.8)  # ... and is a pixel this much darker than the lips (a share of their lightness)
GROW = 0.5               # the colour may move the outline outward, and the soft edge reach, this share of the
COLLAPSED = 0.04         # lips' thickness beyond this (in mouth widths) at most: a contour folded to a line
                         # (thinner than that) gets what it encloses, no more
IN_FRONT_CHROMA = 0.7    # something in front of the lips (a microphone): under this share of the lips' chroma ...
IN_FRONT_FROM_SKIN = 0.8 # ... this far from the skin's a* b* (in lip-to-skin distances) ...
IN_FRONT_LIGHTER = 15.0  # ... and not lighter than the lips by this much (L*; a highlight, teeth)
MIN_MOUTH_PX = 16.0      # below this mouth width the colour is not trusted: the smooth outline alone
EDGE_KNOTS = 3           # in video, the edge is kept for the next frame at this many points a landmark stretch
STEADY_FROM = 0.15       # in video, an edge point moves this share of the way from the last frame's edge ...
STEADY_SPAN = 1.0        # ... and all of it when the two are this far apart (in reaches): noise damped, moves not


@dataclass(frozen=True)
class LipMask:
    """One face's lips: ``weight`` (float32, 0..1) over the frame's ``rows`` x ``cols``, ``lab`` the box's
    pixels in L*a*b* (computed for the mask and reused by the tint), and ``outline`` / ``opening`` the
    snapped curves in frame coordinates (the opening is None when the mouth is closed)."""
    weight: np.ndarray
    rows: slice
    cols: slice
    lab: np.ndarray
    outline: np.ndarray
    opening: np.ndarray | None
    edge: "Edge | None" = None


@dataclass(frozen=True)
class LipContour:
    """The lips' landmarks (frame pixels) as four chains between the mouth's corners: the upper lip's
    outer edge from the image's left corner to its right, the lower lip's outer edge back, then the
    mouth's opening the same way (its top left to right, its bottom back; the two opening chains have as
    many points). The 68-point model gives 7, 7, 5 and 5 points (``of_68``); another landmark model may
    give more."""
    upper: np.ndarray
    lower: np.ndarray
    opening_top: np.ndarray
    opening_bottom: np.ndarray

    @classmethod
    def of_68(cls, points: np.ndarray) -> "LipContour":
        """The lips of the 68 ``points`` (or of their 20 lip points alone, 48..67)."""
        p, at = points.astype(np.float64), 48 if len(points) == 20 else 0
        return cls(*(p.take(chain[at], axis=0) for chain in (_UPPER_68, _LOWER_68, _TOP_68, _BOTTOM_68)))

    @property
    def outer(self) -> np.ndarray:
        return np.concatenate([self.upper, self.lower])

    @functools.cached_property
    def mouth_width(self) -> float:
        return float(np.hypot(*(self.upper[-1] - self.upper[0])))

    def opening_height(self) -> float:
        """The opening's mean height over its middle three points."""
        top, bottom = self.opening_top, self.opening_bottom[::-1]
        middle = slice(len(top) // 2 - 1, len(top) // 2 + 2)
        return float(np.hypot(*(top[middle] - bottom[middle]).T).mean())


@dataclass(frozen=True)
class Edge:
    """Where a mask put the lips' edge, kept for the video's next frame: the ``contour`` it was drawn from,
    the snapped moves along the normals of its outline and opening (in reaches; ``opening`` None when the
    mouth was closed) and the soft edge's width (in SOFT_EDGE_PX; None without a colour model), each at
    EDGE_KNOTS points a stretch between two landmarks."""
    contour: LipContour
    outline: np.ndarray
    opening: np.ndarray | None
    rim: np.ndarray | None
    openness: float = 0.0

    def pack(self) -> bytes:
        """A flags byte (which of outline, opening, rim follow), the openness (0..255), then each of them as
        signed bytes (-1..1)."""
        parts = (self.outline, self.opening, self.rim)
        flags = sum(1 << k for k, part in enumerate(parts) if part is not None)
        body = (np.rint(np.minimum(np.maximum(part, -1.0), 1.0) * 127).astype(np.int8).tobytes()
                for part in parts if part is not None)
        return bytes([flags, round(min(max(self.openness, 0.0), 1.0) * 255)]) + b"".join(body)

    @classmethod
    def unpack(cls, contour: LipContour, data: bytes) -> "Edge | None":
        """The edge ``pack`` gave for this ``contour`` (the lips it was drawn from); None when the bytes do
        not fit it."""
        if not data or data[0] & 1 == 0 or data[0] > 7:
            return None
        outline = (len(contour.upper) + len(contour.lower) - 2) * EDGE_KNOTS
        sizes = (outline, (len(contour.opening_top) + len(contour.opening_bottom) - 2) * EDGE_KNOTS, outline)
        if len(data) != 2 + sum(size for k, size in enumerate(sizes) if data[0] >> k & 1):
            return None
        parts, offset = [], 2
        for k, size in enumerate(sizes):
            if data[0] >> k & 1:
                parts.append(np.frombuffer(data, np.int8, size, offset).astype(np.float64) / 127)
                offset += size
            else:
                parts.append(None)
        return cls(contour, *parts, openness=data[1] / 255)


# the 68-point scheme's lips (iBUG 300-W): outer 48..59, opening 60..67, corners 48 and 54 (60 and 64)
_UPPER_68, _LOWER_68 = [48, 49, 50, 51, 52, 53, 54], [54, 55, 56, 57, 58, 59, 48]
_TOP_68, _BOTTOM_68 = [60, 61, 62, 63, 64], [64, 65, 66, 67, 60]
# ... indexed from point 0 (all 68 points given) or from point 48 (only the lips')
_UPPER_68, _LOWER_68, _TOP_68, _BOTTOM_68 = ({0: np.array(c), 48: np.array(c) - 48}
                                            for c in (_UPPER_68, _LOWER_68, _TOP_68, _BOTTOM_68))
_OUTER_SEGMENTS_68 = 12


def _all_quads(chains) -> np.ndarray:
    """The chains' Catmull-Rom segments (segments, 4, 2), chain after chain: each landmark with its
    neighbours, each chain's ends reflected about its first and last point (so the mouth's corners stay
    sharp); gathered at once (cheaper than chain by chain)."""
    points = np.concatenate(chains)
    first, second, last, before_last, gather = _quad_index(tuple(len(c) for c in chains))
    ends = np.concatenate([2 * points[first] - points[second], 2 * points[last] - points[before_last]])
    return np.concatenate([points, ends])[gather]


@functools.lru_cache(maxsize=16)
def _quad_index(lengths: tuple[int, ...]):
    """For chains of these lengths, concatenated: the indices of each chain's first two and last two
    points (its ends are reflected about them), and where each segment's four control points are in the
    points followed by the reflected starts and then the reflected ends."""
    starts = np.cumsum((0,) + lengths[:-1])
    total, count = sum(lengths), len(lengths)
    gather = []
    for k, (start, n) in enumerate(zip(starts, lengths)):
        ext = [total + k] + list(range(start, start + n)) + [total + count + k]
        gather += [ext[j:j + 4] for j in range(n - 1)]
    ends = np.array([s + n - 1 for s, n in zip(starts, lengths)])
    return starts, starts + 1, ends, ends - 1, np.array(gather)


def catmull_rom(quads: np.ndarray, samples: int) -> np.ndarray:
    """Centripetal Catmull-Rom segments (quads: (segments, 4, 2) control points), ``samples`` points a
    segment from its start (the segment's end is the next one's start): (segments * samples, 2). (The
    x and y planes apart, so numpy's inner loops run along the samples, not over an axis of two; the
    knot differences shared. The Hermite form would cost less but rounds otherwise, and the 68 points sit
    on whole pixels, where a polygon's fill is decided by the last bit.)"""
    q = quads.transpose(2, 0, 1)                                        # (2, segments, 4)
    d = q[:, :, 1:] - q[:, :, :-1]                                      # the three spans at once
    knots = np.maximum(np.sqrt(np.sqrt(d[0] ** 2 + d[1] ** 2)), 1e-4)   # (segments, 3)
    d01, d12, d23 = knots[:, 0:1], knots[:, 1:2], knots[:, 2:3]
    t1, t2, t3 = d01, d01 + d12, d01 + d12 + d23
    t = t1 + np.arange(samples)[None, :] * (d12 / samples)              # (segments, samples)
    p0, p1, p2, p3 = (q[:, :, k, None] for k in range(4))              # each (2, segments, 1)
    to1, to2, to3, from1 = t1 - t, t2 - t, t3 - t, t - t1
    a1 = (to1 * p0 + t * p1) / t1
    a2 = (to2 * p1 + from1 * p2) / d12
    a3 = (to3 * p2 + (t - t2) * p3) / d23
    b1 = (to2 * a1 + t * a2) / t2
    b2 = (to3 * a2 + from1 * a3) / (t3 - t1)
    out = np.empty((len(quads), samples, 2))
    np.divide(to2 * b1 + from1 * b2, d12, out=out.transpose(2, 0, 1))
    return out.reshape(-1, 2)


def outline_samples(mouth_width: float, segments: int = _OUTER_SEGMENTS_68) -> int:
    """Points on the outline between two landmarks: about one per SPACING px of mouth width between two of
    the 68 points, as many in all when the lips have ``segments`` stretches between landmarks."""
    per_68 = min(max(math.ceil(mouth_width / SPACING), 3), 16)
    return max(2, round(per_68 * _OUTER_SEGMENTS_68 / segments))


def outlines(contour: LipContour, samples: int, opening: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """The lips' outer outline and the mouth's opening as closed smooth curves (frame coordinates),
    ``samples`` points for each stretch between two landmarks; the outline starts at the upper lip's
    first corner and reaches the other corner at ``samples * (len(contour.upper) - 1)``. Without
    ``opening``, the outline alone (and None)."""
    chains = (contour.upper, contour.lower) + ((contour.opening_top, contour.opening_bottom) if opening else ())
    curve = catmull_rom(_all_quads(chains), samples)
    outer = samples * (len(contour.upper) + len(contour.lower) - 2)
    return curve[:outer], curve[outer:] if opening else None


def _normals(curve: np.ndarray) -> np.ndarray:
    """Unit normals of a closed curve, pointing out of the region it encloses."""
    wrapped = np.concatenate([curve[-1:], curve, curve[:1]])
    tangent = wrapped[2:] - wrapped[:-2]
    x, y = wrapped[1:, 0], wrapped[1:, 1]
    area = np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1])     # > 0: clockwise on screen (y down)
    length = np.maximum(np.hypot(tangent[:, 1], tangent[:, 0]), 1e-9)
    normal = np.empty(tangent.shape)                          # (the tangent turned a quarter, column by column)
    np.divide(tangent[:, 1], length, out=normal[:, 0])
    np.divide(tangent[:, 0], length, out=normal[:, 1])
    flip = normal[:, 1] if area > 0 else normal[:, 0]
    np.negative(flip, out=flip)
    return normal


def _along(curve: np.ndarray, normal: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Points (n, k, 2) at ``offsets`` (k,) along each of the n ``normal``s from the ``curve``'s points
    (one coordinate at a time: numpy broadcasts over a last axis of two slowly)."""
    out = np.empty((len(curve), len(offsets), 2))
    out[..., 0] = curve[:, 0:1] + normal[:, 0:1] * offsets
    out[..., 1] = curve[:, 1:2] + normal[:, 1:2] * offsets
    return out


def _bilinear(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """``image`` (h, w) or (h, w, c) sampled at sub-pixel ``xy`` (..., 2), edges clamped."""
    h, w = image.shape[:2]
    x = np.minimum(np.maximum(xy[..., 0], 0.0), w - 1.001)
    y = np.minimum(np.maximum(xy[..., 1], 0.0), h - 1.001)
    x0, y0 = x.astype(np.intp), y.astype(np.intp)
    fx, fy = x - x0, y - y0
    at = y0 * w + x0
    if image.ndim == 3:
        fx, fy = fx[..., None], fy[..., None]
        flat = image.reshape(h * w, -1)
    else:
        flat = image.reshape(-1)
    # (take: a fraction of fancy indexing's cost)
    gx = 1 - fx
    top = flat.take(at, axis=0) * gx + flat.take(at + 1, axis=0) * fx
    at += w
    bottom = flat.take(at, axis=0) * gx + flat.take(at + 1, axis=0) * fx
    return top * (1 - fy) + bottom * fy


def _nearest(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    x = np.minimum(np.maximum(xy[..., 0] + 0.5, 0), w - 1).astype(np.intp)
    y = np.minimum(np.maximum(xy[..., 1] + 0.5, 0), h - 1).astype(np.intp)
    return image.reshape((h * w,) + image.shape[2:]).take(y * w + x, axis=0)   # (image[y, x] costs more)


@dataclass(frozen=True)
class SkinModel:
    """A linear discriminant between the lips' colour and the skin's around them: ``score`` is 0 at the
    skin's mean and 1 at the lips' mean, along the direction that best separates the two."""
    direction: np.ndarray     # (3,) in L*a*b*
    offset: float
    separation: float         # Fisher's criterion: squared distance of the means in pooled standard deviations

    def score(self, lab: np.ndarray) -> np.ndarray:
        return lab @ self.direction - self.offset


def _inverse3(m: np.ndarray) -> tuple[np.ndarray, float]:
    """The inverse and determinant of a symmetric positive 3x3 matrix, by its adjugate (numpy's linalg
    costs more in call overhead than the arithmetic, done for every face)."""
    # (a float64 matrix's entries as Python floats: the same arithmetic, numpy's scalars cost more)
    (a, b, c), (_, e, f), (_, _, i) = m.tolist() if m.dtype == np.float64 else m
    cofactors = np.array([[e * i - f * f, c * f - b * i, b * f - c * e],
                          [c * f - b * i, a * i - c * c, b * c - a * f],
                          [b * f - c * e, b * c - a * f, a * e - b * b]])
    det = float(a * cofactors[0, 0] + b * cofactors[0, 1] + c * cofactors[0, 2])
    return cofactors / det, det


_EYE3 = np.eye(3)


def _mean_cov(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = samples.sum(axis=0) / len(samples)
    centred = samples - mean
    return mean, centred.T @ centred / (len(samples) - 1)


def skin_model(lips: np.ndarray, skin: np.ndarray, least: float = MIN_SEPARATION) -> SkinModel | None:
    """Fit lips (n, 3) against skin (m, 3) L*a*b* samples; None when they cannot be told apart (a
    separation below ``least``)."""
    if len(lips) < 12 or len(skin) < 12:
        return None
    (mu_lips, cov_lips), (mu_skin, cov_skin) = _mean_cov(lips), _mean_cov(skin)
    gap = mu_lips - mu_skin
    direction = _inverse3((cov_lips + cov_skin) / 2 + _EYE3)[0] @ gap
    span = float(gap @ direction)            # also Fisher's criterion
    if not math.isfinite(span) or span < least:
        return None
    direction = direction / span
    return SkinModel(direction=direction.astype(np.float32), offset=float(mu_skin @ direction), separation=span)


_ONES3 = np.ones(3, np.float32)


class _Gaussian:
    def __init__(self, mean: np.ndarray, cov: np.ndarray) -> None:
        self.mean = mean.astype(np.float32)
        inverse, det = _inverse3(cov)
        self.inverse = inverse.astype(np.float32)
        self.log_det = float(np.log(max(det, 1e-12)))

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        d = x - self.mean
        return -0.5 * ((d @ self.inverse * d) @ _ONES3 + self.log_det)     # (a sum over a last axis of 3 costs more)


@dataclass(frozen=True)
class MouthModel:
    """The lips against the inside of an open mouth: the teeth and tongue seen (sampled inside the
    opening) or a shadow much darker than the lips (the mouth's corners)."""
    lips: _Gaussian
    inside: _Gaussian
    shadow: _Gaussian

    def evidence(self, lab: np.ndarray) -> np.ndarray:
        against = np.logaddexp(self.inside.log_likelihood(lab), self.shadow.log_likelihood(lab))
        evidence = self.lips.log_likelihood(lab) - against - OPENING_SIDE
        return np.minimum(np.maximum(evidence, -EVIDENCE / 2), EVIDENCE / 2)


def mouth_model(lips: np.ndarray, inside: np.ndarray) -> MouthModel | None:
    if len(lips) < 12 or len(inside) < 12:
        return None
    lips_mean, lips_cov = _mean_cov(lips)
    inside_mean, inside_cov = _mean_cov(inside)
    lips_cov += _EYE3
    shadow_mean = lips_mean - np.array([SHADOW_DARKER, 0.0, 0.0])
    shadow_cov = lips_cov.copy()
    shadow_cov[0, :] = shadow_cov[:, 0] = 0.0
    shadow_cov[0, 0] = SHADOW_SPREAD ** 2
    return MouthModel(lips=_Gaussian(lips_mean, lips_cov), inside=_Gaussian(inside_mean, inside_cov + _EYE3),
                      shadow=_Gaussian(shadow_mean, shadow_cov))


_STEPS = np.linspace(-1.0, 1.0, 13)                       # samples along a normal, in reaches
_SPLIT_AT = (_STEPS[:-1] + _STEPS[1:]) / 2                 # a split between two samples, in reaches
PROFILE, _PER_REACH = 3, 6                 # the colour along a normal: +-3 reaches, 6 samples a reach (the
_PROFILE = np.arange(-PROFILE * _PER_REACH, PROFILE * _PER_REACH + 1) / _PER_REACH   # snap's _STEPS among them)
_ENDS = np.array([-1.5, -1.0, 1.0, 1.5])   # the lips' colour just inside an outline point, the skin's outside
# ... of which only those from -1.5 reaches on are ever read (the snap's steps, the ends, the soft edge's
# offsets, which start beyond a move of at most a reach inward): the first _SKIPPED are not sampled
_SKIPPED = int(np.rint((PROFILE + _ENDS[0]) * _PER_REACH))
_SAMPLED = _PROFILE[_SKIPPED:]
_PLACE_TOP = (len(_PROFILE) - 1.001) - _SKIPPED     # (exactly the full profile's last place, shifted)
_END_COLUMNS = np.rint((_ENDS + PROFILE) * _PER_REACH).astype(np.intp) - _SKIPPED
_MOVE_AT = np.append(_SPLIT_AT, 1.0)                       # the move of a split after each sample, in reaches
_STAY_COST = STAY * len(_STEPS) / 2 * _MOVE_AT ** 2


def snap(evidence: np.ndarray, reach: float, lips_inside: bool) -> np.ndarray:
    """How far each point of a closed curve moves along its normal (px, at most ``reach``) to the best
    split of the colour ``evidence`` (n, len(_STEPS)) at the curve's points + reach * _STEPS along the
    normals (> 0 for lips, < 0 against, at most +-EVIDENCE), the moves smoothed along the curve.
    ``lips_inside``: the lips are inside the curve (the outline) or outside it (the mouth's opening)."""
    if not lips_inside:
        evidence = evidence[:, ::-1]      # lips first, as for the outline
    # the split after sample j: evidence for lips up to j, against lips after it, minus the cost of moving
    before = np.cumsum(evidence, axis=1)
    best = np.argmax(2 * before - before[:, -1:] - _STAY_COST, axis=1)
    moves = _MOVE_AT.take(best) * reach
    return _smooth_closed(-moves if not lips_inside else moves, SMOOTH)


def _smooth_closed(values: np.ndarray, sigma: float) -> np.ndarray:
    """``values`` (n,) or (n, k) along a closed curve, Gaussian-smoothed along it (``sigma`` in samples)."""
    return _smoothing(len(values), sigma) @ values


@functools.lru_cache(maxsize=64)
def _smoothing(n: int, sigma: float) -> np.ndarray:
    """The circular Gaussian smoothing of n values as a matrix (one product costs less than a convolution's
    padding and call overhead)."""
    half = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    matrix = np.zeros((n, n))
    rows = np.arange(n)[:, None]
    np.add.at(matrix, (np.broadcast_to(rows, (n, 2 * half + 1)), (rows + np.arange(-half, half + 1)) % n),
              np.broadcast_to(kernel, (n, 2 * half + 1)))
    matrix.setflags(write=False)
    return matrix


def fill(curve: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixel coverage (float32 0..1) of the region inside the closed ``curve`` (box coordinates: pixel
    centres at integers) over a box of ``shape``: each pixel is SUPERSAMPLE x SUPERSAMPLE samples."""
    return fill_levels([(curve, 1.0)], shape)


def _curve_box(curve: np.ndarray, shape: tuple[int, ...], margin: int = 0) -> tuple[int, int, int, int]:
    """The pixels (x0, y0, x1, y1) a drawing of the closed ``curve`` can touch, ``margin`` px more each way,
    within a box of ``shape``."""
    low, high = curve.min(axis=0), curve.max(axis=0)
    return (max(int(np.floor(low[0])) - margin - 1, 0), max(int(np.floor(low[1])) - margin - 1, 0),
            min(int(np.ceil(high[0])) + margin + 2, shape[1]), min(int(np.ceil(high[1])) + margin + 2, shape[0]))


def fill_levels(regions, shape: tuple[int, int]) -> np.ndarray:
    """The coverage of nested closed curves (outermost first), each region's samples at its own level
    (0..1): one supersampled drawing over the curves' bounding box, each sample at the level of the
    innermost curve around it."""
    s = SUPERSAMPLE
    x0, y0, x1, y1 = _curve_box(regions[0][0], shape)                   # (the outermost curve's box)
    out = np.zeros(shape, np.float32)
    if x1 <= x0 or y1 <= y0:
        return out
    image = Image.new("L", ((x1 - x0) * s, (y1 - y0) * s), 0)
    draw = ImageDraw.Draw(image)
    shift = np.array([0.5 - 0.5 / s - x0, 0.5 - 0.5 / s - y0])
    for curve, level in regions:
        draw.polygon(((curve + shift) * s).ravel().tolist(), fill=round(255 * level))   # (x, y, x, y ...)
    # Pillow also fills the samples on a polygon's left and top edges that its outline passes within half
    # a sample of, inside or not: a column and a row of samples too many on those sides (1/s px: a 10 px
    # square covered 105 px, and the upper lip's edge is a top edge). Each sample keeps the least of
    # itself and its left and upper neighbours, which takes them off.
    drawn = np.frombuffer(image.tobytes(), np.uint8).reshape(image.height, image.width)   # (np.asarray costs more)
    exact = drawn.copy()
    np.minimum(exact[:, 1:], drawn[:, :-1], out=exact[:, 1:])
    np.minimum(exact[1:], drawn[:-1], out=exact[1:])
    reduced = Image.fromarray(exact).reduce(s)
    out[y0:y1, x0:x1] = np.frombuffer(reduced.tobytes(), np.uint8).reshape(y1 - y0, x1 - x0) * np.float32(1 / 255)
    return out


_SOFT_STEPS = np.arange(1, 2 * SOFT_EDGE_PX + 1) * 0.5     # every half pixel outward


def soft_edge_widths(lipness, offsets: np.ndarray) -> np.ndarray:
    """How far outward of each point of the outline the lips' own colour goes on (px, up to SOFT_EDGE_PX):
    the least ``lipness`` met so far, summed every half pixel outward, smoothed along the outline. The
    outline lies ``offsets`` (px) along the normals from where the colour was sampled, and ``lipness``
    gives how much the colour is the lips' own (0..1) at such offsets (n, k)."""
    seen = lipness(offsets[:, None] + _SOFT_STEPS)
    return _smooth_closed(0.5 * np.minimum.accumulate(seen, axis=1).sum(axis=1), SMOOTH)


def with_soft_edge(curve: np.ndarray, normal: np.ndarray, widths: np.ndarray | None,
                   shape: tuple[int, int]) -> np.ndarray:
    """The lips inside ``curve`` filled, with the soft edge outward over ``widths`` (px along the
    ``normal``; None: no soft edge): SOFT_EDGE_WEIGHT over its inner SOFT_EDGE_INNER, half that beyond.
    The soft edge fades over the lips' own lip-to-skin transition (soft in a soft photo, crisp in a sharp
    one) and is as steady as the outline, as it is a curve too, not a colour test per pixel."""
    if widths is None:
        return fill(curve, shape)
    return fill_levels([(curve + widths[:, None] * normal, SOFT_EDGE_WEIGHT / 2),
                        (curve + (SOFT_EDGE_INNER * widths)[:, None] * normal, SOFT_EDGE_WEIGHT),
                        (curve, 1.0)], shape)


def box_mean(image: np.ndarray, radius: int = 1) -> np.ndarray:
    """The mean over a (2 radius + 1)^2 window around each pixel, edges repeated: one axis at a time, by
    shifted sums for radius 1 and by running sums beyond (np.pad costs more than the arithmetic here)."""
    if radius < 1:
        return image
    size = 2 * radius + 1
    out = image
    for axis in (0, 1):
        first = out[:1] if axis == 0 else out[:, :1]
        last = out[-1:] if axis == 0 else out[:, -1:]
        if radius > 1:
            first, last = first.repeat(radius, axis), last.repeat(radius, axis)
        padded = np.concatenate([first, out, last], axis=axis)
        if radius == 1:
            out = (padded[:-2] + padded[1:-1] + padded[2:]) if axis == 0 else \
                (padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:])
            continue
        sums = np.cumsum(padded, axis=axis, dtype=np.float32)
        if axis == 0:
            out = np.concatenate([sums[size - 1:size], sums[size:] - sums[:-size]], axis=0)
        else:
            out = np.concatenate([sums[:, size - 1:size], sums[:, size:] - sums[:, :-size]], axis=1)
    return out * np.float32(1 / (size * size))


def find(rgb: np.ndarray, points: np.ndarray, contour: LipContour | None = None,
         snap_edges: bool = True, before: Edge | None = None) -> LipMask | None:
    """The lip mask of the face with these 68 ``points`` in the frame ``rgb``; None when the lips fall
    outside the frame or have no area. ``contour``: the lips from another landmark model (default: the
    68 points'); ``snap_edges=False`` keeps its curves where they are (the colour still shapes the soft
    edge and a closed mouth's gap). ``before``: the edge this face's mask had in the video's previous
    frame (``LipMask.edge``); the snapped edge stays near it where it moved less than noise does."""
    height, width = rgb.shape[:2]
    contour = LipContour.of_68(points) if contour is None else contour
    mouth_width = contour.mouth_width
    outer = contour.outer
    reach = max(REACH * mouth_width, 1.0)
    pad = int(np.ceil(3 * reach)) + 2
    (low_x, low_y), (high_x, high_y) = outer.min(axis=0).tolist(), outer.max(axis=0).tolist()
    x0, y0 = max(0, math.floor(low_x) - pad), max(0, math.floor(low_y) - pad)
    x1, y1 = min(width, math.ceil(high_x) + pad + 1), min(height, math.ceil(high_y) + pad + 1)
    if x1 - x0 < 2 or y1 - y0 < 2 or not np.isfinite(outer).all():
        return None
    origin = np.array([x0, y0], np.float64)
    lab = rgb_to_lab(rgb[y0:y1, x0:x1])
    samples = outline_samples(mouth_width, len(contour.upper) + len(contour.lower) - 2)
    lips, opening = outlines(contour, samples)
    lips -= origin
    inner = opening - origin
    openness = _openness(contour, before, reach)
    opening = inner if openness > 0 else None
    lips_lightness, edge, widths, normal, colour = None, None, None, None, None
    if mouth_width >= MIN_MOUTH_PX:
        corner = samples * (len(contour.upper) - 1)
        normals = (_normals(lips), None if opening is None else _normals(opening))
        colour = _snapped(lab, (lips, opening), normals, inner, reach, corner, snap_edges,
                          (openness - SNAP_OPEN) / (1 - SNAP_OPEN))
        moves, lips_lightness = colour.moves, colour.lightness
        grow = GROW * max(colour.thickness - COLLAPSED * mouth_width, 0.0)
        moves[0] = np.minimum(moves[0], grow)
        if before is not None:
            moves = _steadied(moves, (lips, opening), normals, before, samples, origin, reach)
        normal = normals[0]       # (the moves are smooth and small: the normals stay)
        lips = lips + moves[0][:, None] * normal
        if opening is not None:
            opening = opening + moves[1][:, None] * normals[1]
        widths = _soft_edge(colour.lipness, moves[0], grow, before, samples, reach)
        edge = Edge(contour, *(None if m is None else _restretch(m, samples, EDGE_KNOTS) / reach for m in moves),
                    rim=None if widths is None else _restretch(widths, samples, EDGE_KNOTS) / SOFT_EDGE_PX,
                    openness=openness)
    weight = with_soft_edge(lips, normal, widths, lab.shape[:2])
    if opening is not None:
        weight *= 1 - openness * fill(opening, lab.shape[:2])
    if lips_lightness is not None and openness < 1:
        rows, cols, gap = _gap(lab[..., 0], inner, lips_lightness)
        weight[rows, cols] *= 1 - (1 - openness) * gap
    if colour is not None:
        covered = in_front(lab, colour.lips_colour, colour.skin_colour, weight > 0)
        if covered is not None:
            weight *= 1 - covered
    if not weight.any():
        return None
    return LipMask(weight=weight, rows=slice(y0, y1), cols=slice(x0, x1), lab=lab,
                   outline=lips + origin, opening=None if opening is None else opening + origin, edge=edge)


def _openness(contour: LipContour, before: Edge | None, reach: float) -> float:
    """How open the mouth is (0..1): its opening's height from OPENING_FROM to OPEN_MOUTH mouth widths; in
    video, from the previous frame's, as the edge moves (``_toward``, in px of that height)."""
    span = max((OPEN_MOUTH - OPENING_FROM) * contour.mouth_width, 1e-9)
    now = min(max((contour.opening_height() - OPENING_FROM * contour.mouth_width) / span, 0.0), 1.0)
    if before is None:
        return now
    share = min(STEADY_FROM + abs(now - before.openness) * span / (STEADY_SPAN * reach), 1.0)
    return before.openness + share * (now - before.openness)


def _soft_edge(lipness, moves: np.ndarray, grow: float, before: Edge | None, samples: int,
               reach: float) -> np.ndarray | None:
    """The soft edge's widths along the outline (px; None: no soft edge): as far as the lips' own colour
    goes on, ``grow`` at most; in video, from the previous frame's widths (``_toward``; toward nought when
    the colour has no say now)."""
    widths = None if lipness is None else np.minimum(soft_edge_widths(lipness, moves), grow)
    if before is None:
        return widths
    fits = before.rim is not None and len(before.rim) * samples == len(moves) * EDGE_KNOTS
    held = _restretch(before.rim, EDGE_KNOTS, samples) * SOFT_EDGE_PX if fits else np.zeros(len(moves))
    if widths is None and not held.any():
        return None
    return np.minimum(_toward(held, np.zeros(len(moves)) if widths is None else widths, reach), grow)


def _restretch(values: np.ndarray, per_stretch: int, to: int) -> np.ndarray:
    """Values along a closed curve, ``per_stretch`` to a stretch between landmarks, at ``to`` a stretch
    (linearly between them): ``samples`` to EDGE_KNOTS for the kept edge, and back."""
    at, places = _resampling(len(values) // per_stretch * to, per_stretch / to, len(values))
    return np.interp(at, places, np.append(values, values[:1]))


@functools.lru_cache(maxsize=64)
def _resampling(count: int, step: float, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` places ``step`` apart, and the places 0..``length`` of a closed curve's values (its first
    value again at the end): the same for every face of a size."""
    at, places = np.arange(count) * step, np.arange(length + 1)
    at.setflags(write=False)
    places.setflags(write=False)
    return at, places


def _steadied(moves, curves, normals, before: Edge, samples: int, origin: np.ndarray, reach: float):
    """The snapped moves held near the previous frame's edge: each curve point moves from where that edge
    lies (on its normal) toward its own snapped place by a share that grows with the distance between the
    two (``_toward``), so noise-sized changes are damped and real movement is followed at once: the edge
    trails its own place by at most STEADY_SPAN * (1 - STEADY_FROM)^2 / 4 reaches, at a speed of about
    half a reach a frame."""
    was_curves = outlines(before.contour, samples, opening=moves[1] is not None and before.opening is not None)
    was_reach = max(REACH * before.contour.mouth_width, 1.0)
    out = []
    for m, curve, normal, was_curve, was_knots in zip(moves, curves, normals, was_curves,
                                                      (before.outline, before.opening)):
        if m is None or was_knots is None or len(was_knots) * samples != len(curve) * EDGE_KNOTS:
            out.append(m)
            continue
        was_curve = was_curve - origin
        was = was_curve + (_restretch(was_knots, EDGE_KNOTS, samples) * was_reach)[:, None] * _normals(was_curve)
        held = ((was - curve) * normal).sum(axis=1)
        out.append(np.clip(_toward(held, m, reach), -reach, reach))
    return out


def _toward(held: np.ndarray, now: np.ndarray, reach: float) -> np.ndarray:
    """From the last frame's ``held`` values toward this frame's ``now``: STEADY_FROM of the way when they
    agree, all of it once they are STEADY_SPAN reaches apart."""
    share = np.minimum(STEADY_FROM + np.abs(now - held) / (STEADY_SPAN * reach), 1.0)
    return held + share * (now - held)


def _gap(lightness: np.ndarray, inner: np.ndarray, lips_lightness: float) -> tuple[slice, slice, np.ndarray]:
    """How much each pixel along a closed mouth's line (within GAP_PX of the opening's curve) is the dark
    gap between the lips rather than lip (0..1): none at GAP_DARKER[0] of the lips' lightness below it, all
    at GAP_DARKER[1] below (the shadowed line where closed lips meet is rarely that dark). Over the line's
    box only: (rows, cols, how much)."""
    x0, y0, x1, y1 = _curve_box(inner, lightness.shape, GAP_PX)
    rows, cols = slice(y0, y1), slice(x0, max(x1, x0))
    line = Image.new("L", (cols.stop - cols.start, rows.stop - rows.start), 0)
    ImageDraw.Draw(line).line((np.vstack([inner, inner[:1]]) - [x0, y0]).ravel().tolist(), fill=1,
                              width=2 * GAP_PX + 1)
    low, high = GAP_DARKER
    darker = (1 - lightness[rows, cols] / max(lips_lightness, 1.0) - low) / (high - low)
    drawn = np.frombuffer(line.tobytes(), np.uint8).reshape(line.height, line.width)   # (np.asarray costs more)
    return rows, cols, drawn * np.minimum(np.maximum(darker, 0.0), 1.0)


# where the colour models are sampled along the normals, in reaches (negative: inside the curve)
_LIP_SAMPLES = np.array([-1.2, -0.8, -0.4])
_SKIN_SAMPLES = np.array([0.4, 0.93, 1.47, 2.0])
_MOUTH_SAMPLES = np.array([-1.5, -1.0, -0.5])
_AROUND = np.concatenate([_SKIN_SAMPLES, _LIP_SAMPLES, _SAMPLED])   # the places read along the outline's normals
_NEAR = len(_SKIN_SAMPLES) + len(_LIP_SAMPLES)                      # ... the first of them for the colour models


class _Colour(NamedTuple):
    """What the face's colours say about its lips (``_snapped``)."""
    moves: list                  # how far to move the outline and the opening (None when closed), px along normals
    lipness: object              # how much the colour along the outline's normals is the lips' own (0..1), as
                                 # the lips and skin around each point have it: offsets (n, k; px) -> (n, k);
                                 # None: the colour has no say
    lightness: float             # the lips' mean L*
    thickness: float             # the lips' thickness, px
    lips_colour: np.ndarray      # the lips' median L*a*b* (from samples across their middle)
    skin_colour: np.ndarray      # the skin's around them


def _snapped(lab: np.ndarray, curves, normals, inner: np.ndarray, reach: float, corner: int,
             snap_edges: bool = True, opening_share: float = 1.0) -> _Colour:
    """How far to move the outline to the lips' colour edge against the skin, and the opening against the
    mouth, and what else the colour says (``_Colour``). ``inner``: the opening's curve even when the mouth
    is closed (the lips' middle lies between the two); ``corner``: where the outline reaches the mouth's
    other corner. Without ``snap_edges`` the moves are nought and only the colour model is made.
    ``curves``: the outline and the opening (None when the mouth is closed), ``normals`` theirs;
    ``opening_share``: how much of its snapped moves the opening takes (none at 0 or less: barely open)."""
    (lips, opening), (normal, opening_normal) = curves, normals
    snap_opening = opening is not None and snap_edges and opening_share > 0
    # every place along the outline's normals read at once (the skin's, the lips' near the edge, then the
    # profile's), and every colour model's pixels in one lookup (the lips' middle and the mouth's inside too)
    around = _along(lips, normal, reach * _AROUND)
    middle, thickness = _middle_of_lips(lips, inner, corner)
    places = [around[:, :_NEAR].reshape(-1, 2), middle.reshape(-1, 2)]
    if snap_opening:
        places.append(_along(opening, opening_normal, reach * _MOUTH_SAMPLES).reshape(-1, 2))
    seen = _nearest(lab, np.concatenate(places))
    near = seen[:len(places[0])].reshape(len(lips), _NEAR, 3)
    skin_samples, near_edge = near[:, :len(_SKIN_SAMPLES)].reshape(-1, 3), near[:, len(_SKIN_SAMPLES):]
    middle = seen[len(places[0]):len(places[0]) + len(places[1])]
    skin = skin_model(middle, skin_samples, FIRST_SEPARATION[0])
    sure = 0.0
    if skin is not None:
        sure = min((skin.separation - FIRST_SEPARATION[0]) / (FIRST_SEPARATION[1] - FIRST_SEPARATION[0]), 1.0)
        # refit with the samples near the edge that are the lips' colour, without the outside samples
        # that are (the points may be off the edge by a pixel or two, or in a moustache)
        near_edge = near_edge.reshape(-1, 3)
        lip_samples = np.concatenate([middle, near_edge[skin.score(near_edge) > 0.5]])
        skin = skin_model(lip_samples, skin_samples[skin.score(skin_samples) < 0.5]) or skin
    else:
        lip_samples = middle
    if skin is not None:
        sure = min(sure * ((skin.separation - MIN_SEPARATION) / (SURE_SEPARATION - MIN_SEPARATION)), 1.0)
    skin = skin if sure > 0 else None
    lipness = None
    moves = [np.zeros(len(lips)), None if opening is None else np.zeros(len(opening))]
    if skin is not None:
        along = _Profile(skin.score(lab), around[:, _NEAR:], reach)
        zero, unit = along.local_colour()
        if snap_edges:
            level, scale = zero + EDGE * unit, 2 * EVIDENCE / unit
            evidence = np.minimum(np.maximum((along.steps - level[:, None]) * scale[:, None], -EVIDENCE), EVIDENCE)
            moves[0] = snap(evidence, reach, lips_inside=True) * sure
        start, span = zero + LIPNESS_FROM * unit, (LIP_SIDE - LIPNESS_FROM) * unit

        def lipness(offsets: np.ndarray) -> np.ndarray:
            return np.minimum(np.maximum((along.at(offsets) - start[:, None]) / span[:, None], 0.0), 1.0) * sure
    if snap_opening:
        mouth = mouth_model(lip_samples, seen[len(places[0]) + len(places[1]):])
        if mouth is not None:
            evidence = mouth.evidence(_bilinear(lab, _along(opening, opening_normal, reach * _STEPS)))
            moves[1] = snap(evidence, reach, lips_inside=False) * min(opening_share, 1.0)
    return _Colour(moves, lipness, float(middle[:, 0].sum()) / len(middle), thickness, _median(middle),
                   _median(skin_samples))


class _Profile:
    """The lips' colour score (``SkinModel.score``) along each outline point's normal, sampled every
    sixth of a reach from -1.5 (no further inward: nothing reads there) to +PROFILE reaches: ``steps``
    are the samples ``snap`` looks at, ``at`` any offset from -1.5 reaches on (the soft edge's),
    ``local_colour`` the lips' and the skin's there."""

    def __init__(self, score: np.ndarray, places: np.ndarray, reach: float) -> None:
        """``places``: (n, len(_SAMPLED), 2), each outline point + reach * _SAMPLED along its normal."""
        self.reach = reach
        self.seen = _bilinear(score, places)
        self.rows = np.arange(len(places))[:, None] * self.seen.shape[1]    # each row's start in the flat samples
        middle = len(_PROFILE) // 2 - _SKIPPED
        self.steps = self.seen[:, middle - len(_STEPS) // 2:middle + len(_STEPS) // 2 + 1]

    def at(self, offsets: np.ndarray) -> np.ndarray:
        """The score at ``offsets`` (n, k; px along the normals), linearly between samples."""
        place = np.minimum(np.maximum((offsets / self.reach + PROFILE) * _PER_REACH - _SKIPPED, 0.0), _PLACE_TOP)
        below = place.astype(np.intp)
        share = place - below
        at = self.rows + below
        flat = self.seen.reshape(-1)
        return flat.take(at) * (1 - share) + flat.take(at + 1) * share

    def local_colour(self) -> tuple[np.ndarray, np.ndarray]:
        """The score of the skin just outside each outline point (``zero``) and how much higher the
        lips' just inside is (``unit``): the colour 1 to 1.5 reaches along the normal either way, beyond
        the blur of an edge that the landmarks miss by up to a reach, smoothed along the outline. Where
        the two hardly differ (both on lips, or both on skin) they fall back to the face's mean lips and
        skin (scores 0 and 1)."""
        ends = self.seen[:, _END_COLUMNS]
        inside, outside = _smooth_closed(np.stack([(ends[:, 0] + ends[:, 1]) / 2, (ends[:, 2] + ends[:, 3]) / 2], 1),
                                         PLATEAU_SMOOTH).T
        contrast = inside - outside
        trust = np.minimum(np.maximum((contrast - LOCAL_CONTRAST[0]) / (LOCAL_CONTRAST[1] - LOCAL_CONTRAST[0]),
                                      0.0), 1.0)
        return trust * outside, trust * contrast + (1 - trust)


def _median(samples: np.ndarray) -> np.ndarray:
    """Each column's median (the upper one of an even count): np.median costs more in overhead here."""
    middle = len(samples) // 2
    return np.partition(samples, middle, axis=0)[middle]


def in_front(lab: np.ndarray, lips_colour: np.ndarray, skin_colour: np.ndarray, where: np.ndarray) -> np.ndarray | None:
    """How much each pixel of ``lab`` (at ``where``, a boolean box; 0 elsewhere) is something in front of
    the lips (0..1), judged against the lips' and the skin's median L*a*b*: a colour neither the lips'
    (under IN_FRONT_CHROMA of their chroma) nor the skin's (IN_FRONT_FROM_SKIN from its a* b*), and not a
    highlight or teeth (not IN_FRONT_LIGHTER lighter than the lips), grown into its blurred border by a
    pixel; None when nothing is. A microphone held to the mouth, or the dark gap between closed lips,
    are; a hand is skin-coloured and is not (the 68 points rarely put the lips on it)."""
    at = np.flatnonzero(where)
    px = lab.reshape(-1, 3).take(at, axis=0)
    lips_chroma = max(float(np.hypot(lips_colour[1], lips_colour[2])), 1.0)
    apart = max(float(np.hypot(*(lips_colour[1:] - skin_colour[1:]))), 2.0)
    chroma2 = (px * px) @ np.array([0, 1, 1], np.float32)
    # the ramps: under the lips' chroma share (a fifth wide), beyond the skin's distance (0.3 wide)
    not_lips = np.float32(IN_FRONT_CHROMA * 5) - np.sqrt(chroma2) * np.float32(5 / lips_chroma)
    unlit = px[:, 0] < np.float32(lips_colour[0] + IN_FRONT_LIGHTER)
    maybe = np.flatnonzero((not_lips > 0) & unlit)      # (the skin's distance only where it can count: few pixels)
    if not len(maybe):
        return None
    # the distance to the skin's a* b*, squared: chroma^2 - 2 (a*, b*).(the skin's) + |the skin's|^2 (the
    # product over all pixels: over a few, numpy's float32 product rounds otherwise)
    towards = (px @ np.array([0, 2 * skin_colour[1], 2 * skin_colour[2]], np.float32)).take(maybe)
    skin2 = np.maximum(chroma2.take(maybe) - towards + np.float32(skin_colour[1] ** 2 + skin_colour[2] ** 2), 0.0)
    not_skin = np.sqrt(skin2) * np.float32(3.3 / apart) - np.float32(IN_FRONT_FROM_SKIN * 3.3)
    core = np.minimum(np.maximum(not_lips.take(maybe), 0.0), 1.0) * np.minimum(np.maximum(not_skin, 0.0), 1.0)
    if not core.any():
        return None
    out, greyish = np.zeros(where.shape, np.float32), np.zeros(where.shape, np.float32)
    out.ravel()[at.take(maybe)] = core
    greyish.ravel()[at] = np.minimum(np.maximum(not_lips + np.float32(0.75), 0.0), 1.0) * unlit
    return np.maximum(out, np.minimum(box_mean(out) * np.float32(3), 1.0) * greyish)


def _middle_of_lips(lips: np.ndarray, inner: np.ndarray, corner: int) -> tuple[np.ndarray, float]:
    """Points across the middle of the lips: between each outline point (away from the mouth's corners,
    0 and ``corner``) and the nearest point of the opening; and the lips' thickness there (the median
    distance between the two, px)."""
    corners = lips.take([0, corner], axis=0)
    span = np.hypot(*(corners[1] - corners[0])) or 1.0
    x, y = lips[:, 0:1], lips[:, 1:2]         # (one coordinate at a time: numpy is slow over an axis of two)
    near = np.minimum(np.hypot(x - corners[0, 0], y - corners[0, 1]), np.hypot(x - corners[1, 0], y - corners[1, 1]))
    outer = lips.compress(near[:, 0] > 0.2 * span, axis=0)
    squared = (outer[:, 0:1] - inner[:, 0]) ** 2 + (outer[:, 1:2] - inner[:, 1]) ** 2
    closest = np.argmin(squared, axis=1)
    nearest = squared.min(axis=1)
    thickness = float(np.sqrt(_median(nearest))) if len(nearest) else 0.0
    return outer[:, None, :] + _ACROSS[None, :, None] * (inner.take(closest, axis=0) - outer)[:, None, :], thickness


_ACROSS = np.array([0.3, 0.5, 0.7])
