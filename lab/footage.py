"""Fetch the real test footage (`vtest.avi`) and image (`messi5.jpg`) from Debian's opencv-doc.

No model hub or sample CDN is reachable from where edgegw is built and tested, but
Debian's archive is: `apt-get download opencv-doc` (no root needed) gets a 96 MB .deb,
and the two files are streamed out of it with `dpkg-deb --fsys-tarfile | tar x`,
checked against pinned sha256 sums and cached under `<data_dir>/footage/`.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gateway.datadir import DATA_DIR_ENV, default_data_dir
from gateway.errors import EdgegwError

__all__ = [
    "FOOTAGE_FILES",
    "FootageError",
    "FootageFile",
    "default_data_dir",
    "fetch_footage",
    "fetch_messi",
    "fetch_vtest",
]

log = logging.getLogger(__name__)

DEB_PACKAGE = "opencv-doc"
DEB_DATA_DIR = "./usr/share/doc/opencv-doc/examples/data"
_APT_TIMEOUT_S = 600.0


class FootageError(EdgegwError):
    """Footage cannot be fetched or does not match its pinned checksum."""


@dataclass(slots=True, frozen=True)
class FootageFile:
    """One file inside the opencv-doc package, with its pinned checksum."""

    name: str
    sha256: str
    size: int


VTEST = FootageFile(
    name="vtest.avi",
    sha256="45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf",
    size=8_131_690,
)
MESSI = FootageFile(
    name="messi5.jpg",
    sha256="1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9",
    size=72_937,
)
FOOTAGE_FILES: tuple[FootageFile, ...] = (VTEST, MESSI)


def fetch_vtest(data_dir: Path | None = None) -> Path:
    """Return the cached `vtest.avi` (768x576, 795 frames, 10 fps), fetching it if needed."""
    return fetch_footage(data_dir)[VTEST.name]


def fetch_messi(data_dir: Path | None = None) -> Path:
    """Return the cached `messi5.jpg`, fetching it if needed."""
    return fetch_footage(data_dir)[MESSI.name]


def fetch_footage(data_dir: Path | None = None) -> dict[str, Path]:
    """Return every footage file by name, fetching the missing ones in one .deb pass."""
    footage_dir = (data_dir if data_dir is not None else default_data_dir()) / "footage"
    paths = {f.name: footage_dir / f.name for f in FOOTAGE_FILES}
    missing = [f for f in FOOTAGE_FILES if not _is_valid(paths[f.name], f)]
    if not missing:
        return paths
    footage_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgegw-footage-", dir=footage_dir) as tmp:
        work = Path(tmp)
        deb = _download_deb(work)
        _extract(deb, [f.name for f in missing], work)
        for f in missing:
            extracted = work / DEB_DATA_DIR / f.name
            digest = _sha256(extracted)
            if digest != f.sha256:
                msg = (
                    f"{f.name} from {deb.name} has sha256 {digest}, expected {f.sha256}; "
                    "the Debian package changed, re-pin the checksum after checking it"
                )
                raise FootageError(msg)
            # Same directory, so the rename is atomic: a reader never sees half a file.
            extracted.replace(paths[f.name])
            log.info("fetched %s (%d bytes) into %s", f.name, f.size, footage_dir)
    return paths


def _is_valid(path: Path, expected: FootageFile) -> bool:
    """Return True when `path` exists with the expected size (the hash was checked on fetch)."""
    try:
        return path.stat().st_size == expected.size
    except FileNotFoundError:
        return False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        msg = (
            f"{tool!r} not found: fetching footage needs a Debian-based system with apt "
            f"and dpkg; or copy vtest.avi and messi5.jpg from the {DEB_PACKAGE} package "
            f"into <data dir>/footage/ (data dir: ${DATA_DIR_ENV})"
        )
        raise FootageError(msg)
    return found


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            args, cwd=cwd, capture_output=True, text=True, timeout=_APT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"{' '.join(args)} failed: {exc}"
        raise FootageError(msg) from exc


def _download_deb(work: Path) -> Path:
    """Run `apt-get download opencv-doc` in `work` (retrying after `apt-get update`)."""
    apt = _require("apt-get")
    result = _run([apt, "download", DEB_PACKAGE], work)
    if result.returncode != 0:
        # A fresh container has empty package lists; updating them may work without root
        # in some setups and fails clearly in others.
        log.info("apt-get download failed (%s); running apt-get update", result.stderr.strip())
        _run([apt, "update"], work)
        result = _run([apt, "download", DEB_PACKAGE], work)
    debs = sorted(work.glob(f"{DEB_PACKAGE}_*.deb"))
    if result.returncode != 0 or not debs:
        msg = (
            f"apt-get download {DEB_PACKAGE} failed: {result.stderr.strip()}; "
            f"run `apt-get update` (as root) and retry"
        )
        raise FootageError(msg)
    return debs[-1]


def _extract(deb: Path, names: list[str], work: Path) -> None:
    """Stream only `names` out of the .deb's data tarball, never unpacking the rest."""
    dpkg = _require("dpkg-deb")
    tar = _require("tar")
    members = [f"{DEB_DATA_DIR}/{n}" for n in names]
    with subprocess.Popen(
        [dpkg, "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as dpkg_proc:
        untar = subprocess.run(
            [tar, "x", *members],
            stdin=dpkg_proc.stdout,
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if dpkg_proc.stdout is not None:
            dpkg_proc.stdout.close()
        dpkg_err = dpkg_proc.stderr.read().decode(errors="replace") if dpkg_proc.stderr else ""
        dpkg_rc = dpkg_proc.wait()
    if untar.returncode != 0 or dpkg_rc != 0:
        msg = f"extracting {names} from {deb.name} failed: {untar.stderr.strip()} {dpkg_err}"
        raise FootageError(msg.strip())
