#!/usr/bin/env bash
# Install what edgegw needs on a Debian machine with Python >= 3.11, into ./.venv.
#   scripts/bootstrap.sh            runtime (the demo)
#   scripts/bootstrap.sh --test     + test tools, Mosquitto, Chromium and its driver
# Idempotent: a second run only checks. Needs root or sudo only to install Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

sudo_cmd=()
if [[ "$(id -u)" -ne 0 ]]; then sudo_cmd=(sudo); fi
apt_updated=0
apt_install() {
  if [[ $apt_updated -eq 0 ]]; then
    "${sudo_cmd[@]}" apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "edgegw needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1 || echo none))" >&2
  exit 1
fi

if [[ ! -x .venv/bin/python ]]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    echo "installing python3-venv (Debian) ..." >&2
    apt_install python3-venv
    "$PYTHON" -m venv .venv
  fi
fi

extras="."
[[ $want_test -eq 1 ]] && extras=".[dev]"
stamp=".venv/.edgegw-installed-$([[ $want_test -eq 1 ]] && echo dev || echo run)"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
  echo "installing Python packages into .venv (first run takes a minute) ..." >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e "$extras"
  touch "$stamp"
fi

if [[ $want_test -eq 1 ]]; then
  # Tests start their own Mosquitto (the broker users deploy) on a free port.
  if ! command -v mosquitto >/dev/null && [[ ! -x /usr/sbin/mosquitto ]]; then
    echo "installing mosquitto (Debian) ..." >&2
    apt_install mosquitto
  fi
  # KServe's model server (interop tests) in its own venv under the data dir: kserve
  # 0.21.0 and MLServer 1.7.1 cannot share one (Starlette >= 1.3.1 vs FastAPI < 0.116).
  echo "checking the KServe test venv ..." >&2
  .venv/bin/python -m tests.support.kserve_env >/dev/null
  # Home Assistant Core 2024.3.3 (the interop test) in its own venv under the data dir:
  # it pins paho-mqtt 1.6.1 and aiohttp 3.9.3, which this venv cannot share.
  echo "checking the Home Assistant test venv ..." >&2
  .venv/bin/python -m tests.support.ha_env >/dev/null
  # norfair (Frigate's tracker, scored beside edgegw's by bench.trackers and its test) in
  # its own venv under the data dir: norfair 2.3.0 pins numpy < 2.
  echo "checking the norfair venv ..." >&2
  .venv/bin/python -m lab.norfair_env >/dev/null
  # The status page is tested in a real browser: Debian's Chromium and its driver
  # (Selenium drives them; no browser is downloaded).
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "installing chromium and chromium-driver (Debian) ..." >&2
    apt_install chromium chromium-driver
  fi
fi

# Footage (vtest.avi, for the demo and the tests) comes from Debian's opencv-doc via
# `apt-get download`, which needs the package lists.
if command -v apt-cache >/dev/null && ! apt-cache show opencv-doc >/dev/null 2>&1; then
  echo "updating Debian package lists (for the demo footage) ..." >&2
  "${sudo_cmd[@]}" apt-get update -qq
fi
