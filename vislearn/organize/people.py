"""Faces in photos and who is who: dlib's HOG face detector, 5-point alignment and 128-d face descriptors.

Optional: ``pip install 'vislearn[people]'`` installs dlib-bin (a prebuilt dlib, 11 MB) and
face-recognition-models (126 MB of model files, of which this module reads 31 MB: the 5-point shape
predictor and the ResNet face descriptor). Two descriptors of the same person lie within about 0.6 of
each other (dlib's figure: 99.38 % on the LFW benchmark), which ``group_people`` uses as its default.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from vislearn.data.images import read_image
from vislearn.errors import ImageReadError, VislearnError

INSTALL_HINT = "install the people extra: pip install 'vislearn[people]'"
SHAPE_MODEL, DESCRIPTOR_MODEL = "shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"
MAX_SIDE = 1600  # larger photos are scanned downscaled: HOG time grows with pixels, faces stay findable


class Face(NamedTuple):
    path: str
    box_xyxy: tuple[int, int, int, int]  # in the photo's own pixels (upright, as a viewer shows it)
    embedding_128: np.ndarray  # (128,) float32 dlib face descriptor; same person: distance < ~0.6


class FaceModels(NamedTuple):
    detector: object
    shape_predictor: object
    descriptor: object


def _models_folder() -> Path:
    # importing face_recognition_models itself needs pkg_resources (setuptools), gone from new environments:
    # find its data folder without running its __init__
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise VislearnError(f"face-recognition-models is not installed; {INSTALL_HINT}")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


@lru_cache(maxsize=1)
def load_face_models() -> FaceModels:
    """dlib's detector, 5-point shape predictor and ResNet descriptor (loaded once per process)."""
    try:
        import dlib
    except ImportError:
        raise VislearnError(f"dlib is not installed; {INSTALL_HINT}") from None
    folder = _models_folder()
    for name in (SHAPE_MODEL, DESCRIPTOR_MODEL):
        if not (folder / name).is_file():
            raise VislearnError(f"{folder / name}: missing; reinstall face-recognition-models ({INSTALL_HINT})")
    return FaceModels(dlib.get_frontal_face_detector(), dlib.shape_predictor(str(folder / SHAPE_MODEL)),
                      dlib.face_recognition_model_v1(str(folder / DESCRIPTOR_MODEL)))


def faces_in_image(image_hwc: np.ndarray, path: str = "", upsample: int = 1) -> list[Face]:
    """Faces in one RGB uint8 image (H, W, 3); boxes in its pixels. ``upsample`` finds smaller faces, slower."""
    import dlib

    models = load_face_models()
    rgb = np.ascontiguousarray(image_hwc[..., :3], dtype=np.uint8)
    faces = []
    for box in models.detector(rgb, upsample):
        shape = models.shape_predictor(rgb, box)
        chip = dlib.get_face_chip(rgb, shape, size=150, padding=0.25)
        descriptor = np.asarray(models.descriptor.compute_face_descriptor(chip), dtype=np.float32)
        h, w = rgb.shape[:2]
        xyxy = (max(0, box.left()), max(0, box.top()), min(w, box.right()), min(h, box.bottom()))
        faces.append(Face(path, xyxy, descriptor))
    return faces


def find_faces(paths: list[str], upsample: int = 1, max_side: int = MAX_SIDE, skip_unreadable: bool = False,
               progress=None) -> list[Face]:
    """Every face found in the photos at ``paths``, in order; boxes in each photo's own pixels.

    Photos larger than ``max_side`` are searched downscaled and their boxes scaled back. An unreadable
    photo raises :class:`ImageReadError`, or is skipped with ``skip_unreadable``.
    """
    load_face_models()  # the install hint before the first photo, not after
    found = []
    for path in paths:
        try:
            image = read_image(path)
        except ImageReadError:
            if skip_unreadable:
                continue
            raise
        scale = min(1.0, max_side / max(image.size))
        if scale < 1.0:
            image = image.resize((round(image.width * scale), round(image.height * scale)))
        for face in faces_in_image(np.asarray(image), str(path), upsample):
            box = tuple(int(round(v / scale)) for v in face.box_xyxy)
            found.append(face._replace(box_xyxy=box))
        if progress is not None:
            progress(1)
    return found


def group_people(faces: list[Face], max_distance: float = 0.6) -> dict[str, list[str]]:
    """``person_1``, ``person_2``, ...: the photos of each person, most photographed first.

    Faces join when their descriptors are within ``max_distance`` (dlib's Chinese-whispers clustering over
    that graph). A group photo appears under every person in it; one face alone is a person too.
    """
    if not faces:
        return {}
    import dlib

    descriptors = [dlib.vector(f.embedding_128.astype(np.float64).tolist()) for f in faces]
    labels = dlib.chinese_whispers_clustering(descriptors, max_distance)
    photos: dict[int, list[str]] = {}
    for label, face in zip(labels, faces):
        photos.setdefault(label, [])
        if face.path not in photos[label]:
            photos[label].append(face.path)
    ranked = sorted(photos.values(), key=lambda p: (-len(p), p[0]))
    return {f"person_{i + 1}": p for i, p in enumerate(ranked)}
