"""A person judge for small, redacted crops: four models, each on the crop upscaled.

A hard case from vtest.avi is a person of ~20x50 to 50x100 px with a margin and a
pixelated face. The oracle's crop judge (`PersonOracle.judge_crop`) sees it at its own
size on a black square and rejects many of them. Here every member sees the crop made
person-sized for its input (upscaled, padded to the model's aspect with the crop's own
border pixels, not black), and each votes with its own kind of evidence:

- `detector`: the SSDLite MobileNetV2 person detector (the bundled model) on the crop
  padded to a square and scaled to 300 px: its best box at least `min_height` of the
  crop tall (a head or a bag is not a person);
- `wake_words`: the visual wake words classifier (person / non-person, 96x96), a model
  the edge does not run on this camera: an independent view of the whole crop;
- `mask`: DeepLabv3 on the crop padded to a square (257 px): the mean person
  probability over the pixels it calls person, when those cover `min_mask` of the crop;
- `pose`: the BlazePose detector (224 px): its best score. Reported, but it does not
  vote: it keys on the face, which redaction blurs, and on cloth and grass it fires
  (measured by `bench/judge_accuracy.py`: it lowers the rejection of non-people).

The crop's score is the best of the voters' scores (each member is precise on its own at
0.5, and each misses different people: the detector small and side-on ones, wake words
dark ones on dark ground, the mask people cut by the crop); a person at `threshold`.
Its accuracy on the hand-verified truth, against the oracle's judge and the edge's
detector alone, is in the README (`python -m bench.judge_accuracy`). Not thread-safe:
one `PersonEnsemble` per thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from gateway.inference.catalog import resolve
from gateway.inference.detector import Detector
from gateway.inference.geometry import Box
from gateway.inference.interpreter import TFLiteModel
from gateway.inference.outputs import ClassifierDecoder
from refcloud.oracle import POSE_MODEL, SEGMENTATION_MODEL, OracleConfig, mask_boxes

__all__ = ["EnsembleConfig", "EnsembleVerdict", "MemberScores", "PersonEnsemble"]

Image = npt.NDArray[np.uint8]
Member = Literal["detector", "wake_words", "mask", "pose"]

DETECTOR_MODEL = "person_ssdlite"
WAKE_WORDS_MODEL = "visual_wake_words"
_VOC_PERSON = 15


@dataclass(slots=True, frozen=True)
class MemberScores:
    """Each member's person score for one crop (0..1)."""

    detector: float
    wake_words: float
    mask: float
    pose: float

    def as_dict(self) -> dict[Member, float]:
        """The scores by member name."""
        return {
            "detector": self.detector,
            "wake_words": self.wake_words,
            "mask": self.mask,
            "pose": self.pose,
        }


@dataclass(slots=True, frozen=True)
class EnsembleConfig:
    """How the members see a crop and how their votes are weighed."""

    voters: tuple[Member, ...] = ("detector", "wake_words", "mask")
    """The members whose score counts; the crop's score is the best of theirs."""
    threshold: float = 0.5
    min_height: float = 0.4
    """A detector box (or mask person) must be this part of the crop's height."""
    min_mask: float = 0.05
    """Fraction of the crop's pixels DeepLab must call person for the mask to vote."""


@dataclass(slots=True, frozen=True)
class EnsembleVerdict:
    """The ensemble's judgement of one crop."""

    is_person: bool
    score: float
    members: MemberScores
    boxes: tuple[Box, ...] = ()
    """The people found, in the crop's pixels (detector boxes, else mask boxes)."""


@dataclass(slots=True, frozen=True)
class _Padded:
    """A crop on a square canvas of its border colour, and where it sits."""

    image: Image
    x0: int
    y0: int


def _square(crop: Image) -> _Padded:
    h, w = crop.shape[:2]
    side = max(h, w, 8)
    y0, x0 = (side - h) // 2, (side - w) // 2
    padded = cv2.copyMakeBorder(crop, y0, side - h - y0, x0, side - w - x0, cv2.BORDER_REPLICATE)
    return _Padded(np.asarray(padded, np.uint8), x0, y0)


class PersonEnsemble:
    """Judge whether a crop shows a person, with four models (see the module docstring)."""

    def __init__(
        self,
        config: EnsembleConfig | None = None,
        *,
        data_dir: Path | None = None,
        threads: int = 1,
    ) -> None:
        self.config = config if config is not None else EnsembleConfig()
        self.detector = Detector.from_catalogue(
            DETECTOR_MODEL, data_dir, num_threads=threads, score_threshold=0.05
        )
        self.wake_words = Detector.from_catalogue(WAKE_WORDS_MODEL, data_dir, num_threads=threads)
        self.segmentation = TFLiteModel(resolve(SEGMENTATION_MODEL, data_dir), num_threads=threads)
        self.pose = Detector.from_catalogue(
            POSE_MODEL, data_dir, num_threads=threads, score_threshold=0.3
        )

    def judge(self, crop: Image) -> EnsembleVerdict:
        """Judge a BGR crop (one hard case: an object and a margin)."""
        h, w = crop.shape[:2]
        padded = _square(crop)
        det_score, det_boxes = self._detector(padded, w, h)
        mask_score, mask_found = self._mask(padded, w, h)
        members = MemberScores(
            detector=det_score,
            wake_words=self._wake_words(crop),
            mask=mask_score,
            pose=max((d.score for d in self.pose.detect(padded.image)), default=0.0),
        )
        scores = members.as_dict()
        score = max(scores[k] for k in self.config.voters)
        is_person = score >= self.config.threshold
        boxes = det_boxes or mask_found
        return EnsembleVerdict(is_person, score, members, boxes if is_person else ())

    def _detector(self, padded: _Padded, w: int, h: int) -> tuple[float, tuple[Box, ...]]:
        tall = [
            d
            for d in self.detector.detect(padded.image)
            if d.box.height >= self.config.min_height * h
        ]
        score = max((d.score for d in tall), default=0.0)
        people = tuple(
            b for d in tall if d.score >= 0.5 and (b := _to_crop(d.box, padded, w, h)) is not None
        )
        return score, people

    def _wake_words(self, crop: Image) -> float:
        decoder = self.wake_words.decoder
        assert isinstance(decoder, ClassifierDecoder)
        tensor = self.wake_words.preprocessor(crop).tensor
        probs = decoder.probabilities(self.wake_words.model.invoke(tensor))
        return float(probs[decoder.labels.index("person")])

    def _mask(self, padded: _Padded, w: int, h: int) -> tuple[float, tuple[Box, ...]]:
        side = self.segmentation.input.shape[1]
        image = padded.image
        rgb = cv2.cvtColor(cv2.resize(image, (side, side)), cv2.COLOR_BGR2RGB)
        tensor = (rgb.astype(np.float32) / np.float32(127.5) - np.float32(1.0))[np.newaxis]
        logits = self.segmentation.invoke(tensor)[0][0].astype(np.float32)
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        prob = exp[..., _VOC_PERSON] / exp.sum(axis=-1)
        full = np.asarray(cv2.resize(prob, (image.shape[1], image.shape[0])), np.float32)
        own = full[padded.y0 : padded.y0 + h, padded.x0 : padded.x0 + w]
        person = own > 0.5
        if not person.any():
            return 0.0, ()
        if person.mean() < self.config.min_mask:  # a sliver: a hand, a bag, a far head
            return float(person.mean() / self.config.min_mask * own[person].mean()), ()
        found = mask_boxes(own, 0.5, 0.02 * w * h, OracleConfig())
        boxes = tuple(d.box for d in found if d.box.height >= self.config.min_height * h)
        return float(own[person].mean()), boxes


def _to_crop(box: Box, padded: _Padded, w: int, h: int) -> Box | None:
    x1, y1 = max(0.0, box.x1 - padded.x0), max(0.0, box.y1 - padded.y0)
    x2, y2 = min(float(w), box.x2 - padded.x0), min(float(h), box.y2 - padded.y0)
    return Box(x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None
