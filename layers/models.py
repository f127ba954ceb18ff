"""MediaPipe's models, fetched from PyPI: they ship only inside the ``mediapipe`` wheel (Apache-2.0). The
wheel is downloaded with ``pip download --no-deps`` (mediapipe itself is never installed: 64 MB, and it
pins numpy < 2), the ``.tflite`` files are extracted, and each is checked against its sha256. A no-op
when the files are already there.

- ``MODELS``: the BlazeFace face detectors the service runs (sha256 named by ``chalicelib/blazeface.py``);
  ``layers/build.py`` calls ``fetch`` for the model layer (``/opt/models/`` on Lambda);
- ``FACE_MESH``: the face mesh models that ``bench/realism.py --mesh`` compares lip masks with (not in the
  layer: the service does not run them).

    .venv/bin/python layers/models.py [FOLDER]     (make models: FOLDER is the landmark model's folder)
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib import blazeface  # noqa: E402

WHEEL = "mediapipe==0.10.18"   # the last release with a cp311 manylinux2014 wheel holding the models


@dataclass(frozen=True)
class ModelFile:
    member: str      # the file's path in the wheel
    sha256: str

    @property
    def file(self) -> str:
        return self.member.rsplit("/", 1)[-1]


MODELS = tuple(ModelFile(f"mediapipe/modules/face_detection/{spec.file}", spec.sha256)
               for spec in (blazeface.SHORT_RANGE, blazeface.FULL_RANGE))
FACE_MESH = (
    ModelFile("mediapipe/modules/face_landmark/face_landmark.tflite",
              "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"),
    ModelFile("mediapipe/modules/face_landmark/face_landmark_with_attention.tflite",
              "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4"),
)


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def current(folder: pathlib.Path, models=MODELS) -> bool:
    return all((folder / m.file).is_file() and sha256(folder / m.file) == m.sha256 for m in models)


def fetch(folder: pathlib.Path, models=MODELS) -> list[pathlib.Path]:
    """The ``models`` in ``folder``, downloaded and checked if they are not there (or differ)."""
    folder = pathlib.Path(folder)
    targets = [folder / m.file for m in models]
    if current(folder, models):
        return targets
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tintcam-mediapipe-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
                        "--platform", "manylinux2014_x86_64", "--dest", tmp, WHEEL], check=True)
        wheel, = pathlib.Path(tmp).glob("mediapipe-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            for model, target in zip(models, targets):
                data = zf.read(model.member)
                digest = hashlib.sha256(data).hexdigest()
                if digest != model.sha256:
                    raise SystemExit(f"{model.file} from {wheel.name} has sha256 {digest}, expected {model.sha256}")
                partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
                partial.write_bytes(data)
                partial.replace(target)
    return targets


def main() -> None:
    if len(sys.argv) > 1:
        folder = pathlib.Path(sys.argv[1])
    else:
        from chalicelib import faces
        folder = pathlib.Path(faces.resolve_model_path("", layer_root="/nonexistent")).parent
    for path in fetch(folder, MODELS + FACE_MESH):   # one download for both
        print(f"{path} ({path.stat().st_size / 1e3:.0f} KB, sha256 checked)")


if __name__ == "__main__":
    main()
