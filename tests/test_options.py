"""chalicelib/options.py: the allow-list and every parameter's validation."""
from __future__ import annotations

import pytest

from chalicelib import options
from chalicelib.errors import BadParameter


def test_defaults(settings):
    opts = options.parse(None, settings)
    assert opts.color == (0xB0, 0x30, 0x3F)
    assert opts.intensity == settings.default_intensity
    assert opts.quality == settings.default_quality
    assert opts.min_face == settings.default_min_face
    assert opts.finish == "satin" and opts.shimmer == 0.0


def test_valid_values(settings):
    opts = options.parse({"color": "#00ff7F", "intensity": "0", "quality": "40", "min_face": "20"}, settings)
    assert opts == options.TintOptions(color=(0, 255, 127), intensity=0.0, quality=40, min_face=20)
    assert options.parse({"color": "a0B1c2"}, settings).color == (0xA0, 0xB1, 0xC2)


@pytest.mark.parametrize("name,value", [
    ("color", "red"), ("color", "#12345"), ("color", "1234567"), ("color", ""), ("color", "#gg0000"),
    ("intensity", "-0.1"), ("intensity", "1.5"), ("intensity", "nan"), ("intensity", "inf"), ("intensity", "x"),
    ("quality", "39"), ("quality", "96"), ("quality", "80.5"), ("quality", ""),
    ("min_face", "19"), ("min_face", "2001"), ("min_face", "abc"),
    ("finish", "shiny"), ("finish", "Gloss"), ("finish", ""), ("finish", "gloss "),
    ("shimmer", "-0.1"), ("shimmer", "1.01"), ("shimmer", "nan"), ("shimmer", "lots"),
    ("colour", "#ff0000"), ("answer", "webp"), ("answer", "PATCH"), ("answer", " patch"), ("answer", ""),
])
def test_bad_values_name_the_parameter(settings, name, value):
    with pytest.raises(BadParameter) as err:
        options.parse({name: value}, settings)
    assert err.value.param == name
    assert err.value.status == 400 and err.value.code == "bad_parameter"


def test_landmarks_allow_list_is_narrower(settings):
    with pytest.raises(BadParameter):
        options.parse({"color": "ff0000"}, settings, allowed=("min_face",))


def test_answer_is_full_unless_patch_is_asked(settings):
    assert options.parse(None, settings).answer == "full"
    assert options.parse({"answer": "full"}, settings).answer == "full"
    assert options.parse({"answer": "patch"}, settings).answer == "patch"
    with pytest.raises(BadParameter):
        options.parse({"answer": "patch"}, settings, allowed=("min_face",))   # landmarks have no answer formats


@pytest.mark.parametrize("finish", ["satin", "matte", "gloss"])
def test_finishes_and_shimmer(settings, finish):
    opts = options.parse({"finish": finish, "shimmer": "0.35"}, settings)
    assert (opts.finish, opts.shimmer) == (finish, 0.35)
    with pytest.raises(BadParameter) as err:
        options.parse({"finish": finish}, settings, allowed=("min_face",))   # landmarks take no look
    assert err.value.param == "finish"


def test_a_video_query_is_parsed_once_and_a_refused_one_every_time(settings):
    query = {"color": "#123456", "intensity": "0.4"}
    first = options.parse(query, settings)
    assert options.parse(dict(query), settings) is first       # the next frame of the video: remembered
    with pytest.raises(BadParameter):
        options.parse(query, settings, allowed=("min_face",))   # the allow-list is part of what is remembered
    for _ in range(2):
        with pytest.raises(BadParameter):
            options.parse({"intensity": "2"}, settings)
