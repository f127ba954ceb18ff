"""chalicelib/settings.py: environment overrides, and validation at start-up."""
from __future__ import annotations

import pytest

from chalicelib import settings


def test_defaults_are_valid():
    s = settings.load({})
    assert s.max_output_bytes * 4 / 3 < settings.LAMBDA_PAYLOAD_LIMIT


def test_environment_overrides():
    s = settings.load({"TINTCAM_DEFAULT_MIN_FACE": "60", "TINTCAM_DEFAULT_INTENSITY": "0.25",
                       "TINTCAM_MODEL_PATH": "/opt/x.dat"})
    assert (s.default_min_face, s.default_intensity, s.model_path) == (60, 0.25, "/opt/x.dat")


@pytest.mark.parametrize("env,name", [
    ({"TINTCAM_MAX_PIXELS": "many"}, "TINTCAM_MAX_PIXELS"),
    ({"TINTCAM_MAX_PIXELS": "0"}, "TINTCAM_MAX_PIXELS"),
    ({"TINTCAM_MAX_OUTPUT_BYTES": "6000000"}, "TINTCAM_MAX_OUTPUT_BYTES"),
    ({"TINTCAM_DEFAULT_COLOR": "red"}, "TINTCAM_DEFAULT_COLOR"),
    ({"TINTCAM_DEFAULT_QUALITY": "99"}, "TINTCAM_DEFAULT_QUALITY"),
    ({"TINTCAM_LOG_LEVEL": "LOUD"}, "TINTCAM_LOG_LEVEL"),
])
def test_bad_settings_stop_start_up_naming_the_variable(env, name):
    with pytest.raises(ValueError, match=name):
        settings.load(env)
