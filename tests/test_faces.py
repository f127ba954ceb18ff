"""chalicelib/faces.py on the real photos, with both detectors (BlazeFace, the default, and dlib's HOG):
every face found, landmarks agree with dlib's reference."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from chalicelib import faces, imaging, options
from chalicelib import settings as settings_module
from tests.conftest import read, reference_landmarks


def find(name: str, settings, min_face: int, detector: str = ""):
    data = read(name)
    found = imaging.probe(data, settings)
    rgb = imaging.decode(data, found)
    return faces.find_faces(rgb, min_face, faces.resolve_model_path(settings.model_path), detector)


DETECTORS = ("blazeface", "hog")


def test_blazeface_is_the_default_and_the_setting_is_checked():
    assert settings_module.load({}).detector == "blazeface"
    assert settings_module.load({"TINTCAM_DETECTOR": "hog"}).detector == "hog"
    with pytest.raises(ValueError, match="TINTCAM_DETECTOR"):
        settings_module.load({"TINTCAM_DETECTOR": "haar"})
    assert faces.detector().name == "blazeface" and faces.detector("hog").name == "hog"


@pytest.mark.parametrize("detector", DETECTORS)
def test_all_43_reference_faces_found_with_lip_landmarks_within_2px(settings, detector):
    refs = reference_landmarks()
    assert sum(len(v) for v in refs.values()) == 43
    lip_errors = []
    total = 0
    for name, ref_faces in refs.items():
        found = find(name, settings, min_face=40, detector=detector)
        assert len(found) == len(ref_faces), name
        total += len(found)
        for face in found:
            # pair each found face with the reference face whose lips are nearest
            dist = [np.linalg.norm(ref[48:68] - face.points[48:68], axis=1).mean() for ref in ref_faces]
            lip_errors.append(min(dist))
    assert total == 43
    assert np.mean(lip_errors) < 2.0, f"mean lip-point error {np.mean(lip_errors):.2f} px"
    assert max(lip_errors) < 4.0


@pytest.mark.parametrize("detector", DETECTORS)
@pytest.mark.parametrize("min_face", [40, 120])
def test_bald_guys_has_24_faces(settings, detector, min_face):
    assert len(find("bald_guys.jpg", settings, min_face, detector)) == 24


@pytest.mark.parametrize("detector", DETECTORS)
@pytest.mark.parametrize("min_face", [40, 100, 120])
def test_dogs_have_no_human_face(settings, min_face, detector):
    assert find("dogs.jpg", settings, min_face, detector) == []


@pytest.mark.parametrize("detector", DETECTORS)
def test_min_face_bounds_what_is_found(settings, detector):
    # The 2008_002470 faces are 36-52 px wide: min_face 40 finds them, the selfie default does not.
    assert len(find("2008_002470.jpg", settings, 40, detector)) == 6
    assert find("2008_002470.jpg", settings, 120, detector) == []


def test_detection_scale_follows_min_face():
    assert faces.detection_scale(80) == 1.0
    assert faces.detection_scale(40) == 2.0
    assert faces.detection_scale(160) == 0.5


@pytest.mark.parametrize("detector", DETECTORS)
def test_boxes_are_clipped_to_the_frame(settings, detector):
    for face in find("Tom_Cruise_avp_2014_4.jpg", settings, 100, detector):
        x, y, w, h = face.box
        assert x >= 0 and y >= 0 and w > 300 and h > 300
        assert x + w <= 565 and y + h <= 800
        assert face.points.shape == (68, 2)
        assert face.outer_lips.shape == (12, 2) and face.inner_mouth.shape == (8, 2)


@pytest.mark.parametrize("detector", DETECTORS)
def test_concurrent_calls_are_serialised_and_agree(settings, detector):
    """dlib and LiteRT's interpreter break when shared by threads without a lock; with the locks results are stable."""
    expected = [f.box for f in find("2008_007676.jpg", settings, 40, detector)]
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                results.append([f.box for f in find("2008_007676.jpg", settings, 40, detector)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 12 and all(r == expected for r in results)


def test_missing_model_is_a_clear_503(tmp_path):
    from chalicelib.errors import ModelUnavailable
    with pytest.raises(ModelUnavailable, match="missing"):
        faces.load_model(str(tmp_path / "nope.dat"))
    corrupt = tmp_path / "corrupt.dat"
    corrupt.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelUnavailable, match="corrupt"):
        faces.load_model(str(corrupt))
    assert faces.model_status(str(corrupt))["loaded"] is False


def test_options_feed_min_face(settings):
    assert options.parse({"min_face": "40"}, settings).min_face == 40


def test_the_saved_detector_finds_what_dlibs_built_in_one_finds(tmp_path):
    import shutil

    import dlib
    from tests.conftest import DATA, need_data
    need_data()
    converted, saved = faces.prepare(faces.resolve_model_path(""))
    assert faces.detector_file(converted) == saved
    built_in = dlib.get_frontal_face_detector()
    loaded = faces._load_detector(saved)
    assert loaded is not built_in and loaded.num_detectors == 5
    import cv2
    compared = 0
    for path in sorted((DATA / "faces").glob("*.jpg")):
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        ours, theirs = loaded.run(grey, 1, 0.0), built_in.run(grey, 1, 0.0)
        assert [str(r) for r in ours[0]] == [str(r) for r in theirs[0]] and list(ours[1]) == list(theirs[1])
        compared += len(ours[0])
    assert compared >= 60
    # a damaged or foreign file is not trusted: the built-in detector is built instead
    broken = tmp_path / faces.DETECTOR_FILE
    broken.write_bytes(b"\x00" * 1000)
    fallback = faces._load_detector(str(broken))
    assert fallback.num_detectors == 5 and len(fallback(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), 1)) == len(ours[0])
    shutil.copy(saved, tmp_path / "copy.svm")
    assert faces._load_detector(str(tmp_path / "copy.svm")).num_detectors == 5
