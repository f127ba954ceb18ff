"""Query parameters come through an allow-list into one small typed object, validated once."""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Mapping

from .errors import BadParameter
from .lipstick import FINISHES
from .settings import Settings

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")

ALLOWED = ("color", "intensity", "quality", "min_face", "finish", "shimmer", "answer")
ANSWERS = ("full", "patch")   # the answer formats of /v1/tint (see answers.py)


@dataclass(frozen=True)
class TintOptions:
    color: tuple[int, int, int]  # sRGB 0..255
    intensity: float             # 0..1
    quality: int                 # output JPEG quality
    min_face: int                # smallest face width looked for, in pixels of the (oriented) frame
    answer: str = "full"         # "full": the whole frame as a JPEG; "patch": only the tinted lips, WebP
    finish: str = FINISHES[0]    # how light sits on the lips: satin (default), matte or gloss (see lipstick.py)
    shimmer: float = 0.0         # 0..1: fine sparkle on the lips


def parse_color(raw: str) -> tuple[int, int, int]:
    match = _HEX.match(raw.strip())
    if not match:
        raise BadParameter(f"color must be a hex colour RRGGBB (with or without '#'), got {raw[:40]!r}",
                           param="color")
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _number(params: Mapping[str, str], name: str, kind, default, low, high):
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        raise BadParameter(f"{name} must be {'an integer' if kind is int else 'a number'} between "
                           f"{low} and {high}, got {raw[:40]!r}", param=name) from None
    if isinstance(value, float) and not math.isfinite(value) or not low <= value <= high:
        raise BadParameter(f"{name} must be between {low} and {high}, got {raw[:40]!r}", param=name)
    return value


def parse(params: Mapping[str, str] | None, settings: Settings,
          allowed: tuple[str, ...] = ALLOWED) -> TintOptions:
    """Validate the query string of a frame request into ``TintOptions``; unknown names are refused.
    A video's frames all send the same query: its options are parsed once (a query that is refused is
    not remembered, and is refused again each time)."""
    return _parse(tuple((params or {}).items()), settings, allowed)


@functools.lru_cache(maxsize=256)
def _parse(items: tuple[tuple[str, str], ...], settings: Settings, allowed: tuple[str, ...]) -> TintOptions:
    params = dict(items)
    for name in params:
        if name not in allowed:
            raise BadParameter(f"unknown parameter {name[:40]!r}; allowed: {', '.join(allowed)}", param=name[:40])
    color = parse_color(params["color"]) if "color" in params else parse_color(settings.default_color)
    return TintOptions(
        color=color,
        intensity=_number(params, "intensity", float, settings.default_intensity, 0.0, 1.0),
        quality=_number(params, "quality", int, settings.default_quality, settings.min_quality, settings.max_quality),
        min_face=_number(params, "min_face", int, settings.default_min_face, settings.min_min_face,
                         settings.max_min_face),
        answer=_choice(params, "answer", ANSWERS),
        finish=_choice(params, "finish", FINISHES),
        shimmer=_number(params, "shimmer", float, 0.0, 0.0, 1.0),
    )


def _choice(params: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first is the default)."""
    raw = params.get(name)
    if raw is None:
        return choices[0]
    if raw not in choices:
        raise BadParameter(f"{name} must be one of {', '.join(choices)}, got {raw[:40]!r}", param=name)
    return raw
