"""The answer formats of ``POST /v1/tint``: which one a request gets, and how each is encoded.

- ``full`` (the default, ``Accept: image/jpeg``): the whole tinted frame as a JPEG;
- ``patch`` (``answer=patch``, ``Accept: image/webp``): only the tinted lips of every face, one lossy
  WebP with an alpha channel cropped to their union box, which ``X-Patch-Box: x,y,w,h`` places in the
  frame; drawn over the frame that was sent it gives the full answer's picture. Nothing tinted (no face,
  ``intensity=0``): ``204`` and no body.

Each format is one function from the tinted frame (and, for the patch, the frame as decoded) to an
``Encoded`` answer; ``negotiate`` picks the format from the ``answer`` parameter and the first Accept
value (API Gateway returns a binary body only when the first Accept value is a binary type).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from . import imaging
from .errors import NotAcceptable
from .lipstick import TintedRegion
from .options import TintOptions
from .settings import Settings

PATCH_BOX_HEADER = "X-Patch-Box"


@dataclass(frozen=True)
class Encoded:
    body: bytes
    media_type: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AnswerFormat:
    name: str                  # the `answer` parameter's value
    media_type: str            # what it answers; must be the first Accept value
    needs_original: bool       # whether encode() needs the frame as it was before the tint
    encode: Callable[..., Encoded]


def full_frame(tinted: np.ndarray, original: np.ndarray | None, regions: Sequence[TintedRegion],
               options: TintOptions, settings: Settings) -> Encoded:
    """The whole frame as a JPEG of the same (upright) size."""
    return Encoded(imaging.encode(tinted, options.quality, settings), "image/jpeg")


def patch(tinted: np.ndarray, original: np.ndarray, regions: Sequence[TintedRegion],
          options: TintOptions, settings: Settings) -> Encoded:
    """Only the tinted lips, as a WebP with alpha cropped to their union box; 204 when nothing was tinted."""
    found = patch_pixels(tinted, original, regions)
    if found is None:
        return Encoded(b"", "image/webp", status=204)
    rgba, (x, y, w, h) = found
    body = imaging.encode_webp(rgba, options.quality, settings)
    return Encoded(body, "image/webp", headers={PATCH_BOX_HEADER: f"{x},{y},{w},{h}"})


def union_box(regions: Sequence[TintedRegion]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the regions' boxes together, None when there are none."""
    if not regions:
        return None
    return (min(r.cols.start for r in regions), min(r.rows.start for r in regions),
            max(r.cols.stop for r in regions), max(r.rows.stop for r in regions))


def patch_pixels(tinted: np.ndarray, original: np.ndarray, regions: Sequence[TintedRegion]) \
        -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """The patch as RGBA pixels and its box (x, y, w, h) in the frame; None when nothing was tinted.

    Alpha is the tint's own mask (where faces' boxes overlap, the larger weight), in 8 bits. The colour
    is the one that, drawn with that alpha over the frame as sent ("source over"), gives back the tinted
    pixel exactly: ``original + (tinted - original) / alpha``, i.e. the tint at full strength. Where a
    pixel changed more than its alpha can carry without leaving 0..255, its alpha is raised to what is
    needed, so the composite never depends on the mask telling the whole truth.
    """
    box = union_box(regions)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    weight = np.zeros((y1 - y0, x1 - x0), np.float32)
    for region in regions:
        sub = weight[region.rows.start - y0:region.rows.stop - y0, region.cols.start - x0:region.cols.stop - x0]
        np.maximum(sub, region.mask, out=sub)
    new = tinted[y0:y1, x0:x1].astype(np.float32)
    old = original[y0:y1, x0:x1].astype(np.float32)
    diff = new - old
    alpha = np.rint(weight * 255.0)
    # the smallest alpha that carries each pixel's change without clipping: |diff| / headroom * 255
    headroom = np.where(diff > 0, 255.0 - old, old)
    np.maximum(headroom, 1.0, out=headroom)
    np.maximum(alpha, np.ceil((np.abs(diff) / headroom).max(axis=2) * 255.0), out=alpha)
    # where alpha is 0 nothing changed (diff is 0 there), so the colour is the frame's own
    scale = np.divide(255.0, alpha, out=np.zeros_like(alpha), where=alpha > 0)
    rgba = np.empty(alpha.shape + (4,), np.uint8)
    rgba[..., :3] = np.clip(np.rint(old + diff * scale[..., None]), 0, 255)
    rgba[..., 3] = alpha
    return rgba, (x0, y0, x1 - x0, y1 - y0)


FULL = AnswerFormat("full", "image/jpeg", needs_original=False, encode=full_frame)
PATCH = AnswerFormat("patch", "image/webp", needs_original=True, encode=patch)
FORMATS = {f.name: f for f in (FULL, PATCH)}
_ACCEPT_ALIASES = {"image/jpg": "image/jpeg"}


def first_accept(accept: str | None) -> str:
    """The first media type of an Accept header, bare and lower-case ('' when absent)."""
    first = (accept or "").split(",")[0].split(";")[0].strip().lower()
    return _ACCEPT_ALIASES.get(first, first)


def negotiate(answer: str, accept: str | None) -> AnswerFormat:
    """The format for ``answer``, provided the first Accept value is its media type; else 406 saying what to
    send (a WebP asked for without ``answer=patch`` too: only patches are WebP)."""
    wanted = FORMATS[answer]
    first = first_accept(accept)
    if first == wanted.media_type:
        return wanted
    if wanted is FULL and first == PATCH.media_type:
        raise NotAcceptable("image/webp answers are patches: add answer=patch to the query, or send "
                            "'Accept: image/jpeg' (first in the list) for the whole frame")
    shown = f"'{first[:60]}'" if first else "no Accept header"
    raise NotAcceptable(f"answer={answer} answers {wanted.media_type}: send 'Accept: {wanted.media_type}' "
                        f"(first in the list); got {shown}")
