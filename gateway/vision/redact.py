"""Faces blurred at the edge on every image that leaves the gateway (crops, snapshots).

`FaceRedactor` runs the BlazeFace full-range detector (model store: `blazeface_full`) on
the picture and on its top part (a standing person's head, enlarged: far faces in a
person crop are a few pixels), at a threshold below the one a check uses, and blurs
each face found: an ellipse inside the face box grown by a margin, feathered at its edge,
replaced by a blur as wide as the box. So a head stays a head-shaped blob of its own
colours: square pixel blocks (what this did before) cost the cloud's person judge a
tenth of the people it must confirm (`python -m bench.judge_accuracy`, the first
truth's crops: people confirmed 0.868 pixelated, 0.902 blurred, 0.948 unredacted). It
checks its own work: if a face is still found after blurring, that ellipse is filled with its mean
colour, and it looks again (a filled patch can make a face-like pattern beside it)
until nothing is found or `_CHECKS` rounds passed; then whatever is still found has its
whole box filled flat, up to `_CHECKS` more rounds. With `jpeg_quality`, each check
looks at the picture as that JPEG, as it will leave: encoding a blurred patch can make a
face the detector scores above 0.5 where the picture itself shows none above 0.3. The
body stays as it was, so the cloud can still judge a person.
Not thread-safe: one redactor per camera worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from devices.cameras import Image, encode_jpeg
from gateway.inference.detector import Detector
from gateway.inference.geometry import Box

__all__ = ["FACE_MODEL", "FaceRedactor", "Redacted", "find_faces"]

FACE_MODEL = "blazeface_full"
_MARGIN = 0.35  # a face box grows by this fraction of its size on each side
_TOP = 0.45  # the top part of a tall picture searched again, enlarged (the head)
_CHECKS = 3  # rounds of look-again-and-fill after blurring


@dataclass(slots=True, frozen=True)
class Redacted:
    """A picture with its faces blurred, and how many faces were blurred."""

    image: Image
    faces: int


def find_faces(detector: Detector, image: Image, threshold: float) -> list[Box]:
    """Return the faces `detector` finds in `image` at `threshold` or above (image pixels)."""
    h, w = image.shape[:2]
    if w < 4 or h < 4:
        return []
    return [d.box.clip(w, h) for d in detector.detect(image) if d.score >= threshold]


class FaceRedactor:
    """Blur the faces in a picture (BlazeFace full range on it and on its top part)."""

    def __init__(
        self, detector: Detector, *, threshold: float = 0.3, jpeg_quality: int | None = None
    ) -> None:
        self.detector = detector
        self.threshold = threshold
        self.jpeg_quality = jpeg_quality
        """The JPEG quality the pictures leave at (checked as that JPEG); None: as they are."""
        self.faces = 0
        """Faces blurred so far."""
        self.images = 0
        """Pictures looked at so far."""

    def faces_in(self, image: Image) -> list[Box]:
        """Return the faces in `image`: the whole picture, then its top part enlarged."""
        faces = find_faces(self.detector, image, self.threshold)
        h, w = image.shape[:2]
        if h > w:  # a person crop: look again at where the head is
            top_h = max(4, int(h * _TOP))
            faces += find_faces(self.detector, image[:top_h], self.threshold)
        return faces

    def redact(self, image: Image, region: Box | None = None) -> Redacted:
        """Return `image` (a copy when a face is found) with every face blurred.

        With `region`, only that part of the picture is searched (a snapshot: around
        the track's box); the faces found there are blurred in the whole picture.
        """
        self.images += 1
        h, w = image.shape[:2]
        x0 = y0 = 0
        part = image
        if region is not None:
            x0, y0, x1, y1 = region.clip(w, h).to_int()
            if x1 - x0 < 4 or y1 - y0 < 4:
                return Redacted(image, 0)
            part = image[y0:y1, x0:x1]
        faces = [Box(b.x1 + x0, b.y1 + y0, b.x2 + x0, b.y2 + y0) for b in self.faces_in(part)]
        if not faces:
            return Redacted(image, 0)
        out = image.copy()
        for face in faces:
            _blur(out, face)
        # Check: anything still found there is filled (an ellipse, then its whole box).
        after = out if region is None else out[y0 : y0 + part.shape[0], x0 : x0 + part.shape[1]]
        for check in range(2 * _CHECKS):
            left = self.faces_in(self._as_sent(after))
            if not left:
                break
            fill = _fill if check < _CHECKS else _fill_box
            for face in left:
                fill(out, Box(face.x1 + x0, face.y1 + y0, face.x2 + x0, face.y2 + y0))
        self.faces += len(faces)
        return Redacted(out, len(faces))

    def _as_sent(self, image: Image) -> Image:
        """`image` as it will leave: through the JPEG codec at `jpeg_quality`."""
        if self.jpeg_quality is None:
            return image
        decoded = cv2.imdecode(
            np.frombuffer(encode_jpeg(image, self.jpeg_quality), np.uint8), cv2.IMREAD_COLOR
        )
        return image if decoded is None else np.asarray(decoded, np.uint8)


def _grown(image: Image, face: Box) -> tuple[int, int, int, int]:
    h, w = image.shape[:2]
    margin = _MARGIN * max(face.width, face.height)
    x1, y1, x2, y2 = face.expand(margin).clip(w, h).to_int()
    return x1, y1, x2, y2


def _ellipse(height: int, width: int) -> npt.NDArray[np.float32]:
    """A feathered ellipse filling a `height` x `width` box (1 inside, 0 outside)."""
    mask = np.zeros((height, width), np.float32)
    axes = (max(1, width // 2), max(1, height // 2))
    cv2.ellipse(mask, (width // 2, height // 2), axes, 0, 0, 360, 1.0, -1)
    k = max(3, (min(height, width) // 4) | 1)
    return np.asarray(cv2.GaussianBlur(mask, (k, k), 0), np.float32)[..., None]


def _paint(image: Image, face: Box, paint: Callable[[Image], npt.ArrayLike], least: int) -> None:
    """Blend `paint(patch)` into the face's grown box through its feathered ellipse."""
    x1, y1, x2, y2 = _grown(image, face)
    if x2 - x1 < least or y2 - y1 < least:
        return
    patch = image[y1:y2, x1:x2]
    mask = _ellipse(y2 - y1, x2 - x1)
    painted = np.asarray(paint(patch), np.float32)
    blended = patch.astype(np.float32) * (1.0 - mask) + painted * mask
    image[y1:y2, x1:x2] = np.clip(blended, 0, 255).astype(np.uint8)


def _blurred(patch: Image) -> Image:
    """The patch under a blur as wide as itself (twice): no features, its colours kept."""
    k = max(3, max(patch.shape[:2]) | 1)
    return np.asarray(cv2.GaussianBlur(cv2.GaussianBlur(patch, (k, k), 0), (k, k), 0), np.uint8)


def _mean(patch: Image) -> npt.NDArray[np.float64]:
    return np.asarray(patch.reshape(-1, 3).mean(axis=0))


def _blur(image: Image, face: Box) -> None:
    _paint(image, face, _blurred, 2)


def _fill(image: Image, face: Box) -> None:
    _paint(image, face, _mean, 1)


def _fill_box(image: Image, face: Box) -> None:
    x1, y1, x2, y2 = _grown(image, face)
    if x2 - x1 < 1 or y2 - y1 < 1:
        return
    image[y1:y2, x1:x2] = np.asarray(_mean(image[y1:y2, x1:x2]), dtype=np.uint8)
