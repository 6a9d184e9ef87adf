"""Fixtures on real services and real files, shared by every test directory.

- A Mosquitto broker per session (and per test when needed).
- Models, footage and sample images, each fetched by a session fixture before the first
  test that uses it. A test (or a subprocess it starts: `edgegw run`, `cloud serve`)
  that needs a model or a file asks for its fixture, so the suite passes on a machine
  with an empty `$EDGEGW_DATA_DIR` whatever order the tests run in. What every gateway
  camera (the face model: faces are blurred by default) and every `cloud serve` (its
  judges) load is fetched once per session for all tests (`_default_run_models`), since
  nearly every directory starts one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from gateway.config import GatewayConfig
from gateway.datadir import default_data_dir
from gateway.errors import ModelError
from gateway.inference import catalog
from lab import footage, samples
from lab.norfair_env import NorfairEnvError, ensure_norfair_python
from tests.support.assets import (
    DEFAULT_RUN_MODELS,
    JUDGE_MODEL_NAMES,
    ORACLE_MODELS,
    TEST_MODELS,
    VWW,
)
from tests.support.kserve_env import KServeEnvError, KServeProcess, ensure_kserve_python
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.required import unavailable

_ids = itertools.count()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """The session's shared broker. Tests that stop or reconfigure one use `own_mosquitto`."""
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker for this test alone, not started: configure, then `start()`."""
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    broker = Mosquitto(workdir)
    yield broker
    broker.stop()


@pytest.fixture
def gateway_id() -> str:
    """A gateway id unique in the session, so tests never share topics."""
    return f"t{next(_ids)}"


ConfigFactory = Callable[..., GatewayConfig]


@pytest.fixture
def make_config(gateway_id: str) -> ConfigFactory:
    """Build a GatewayConfig for a broker, with fast reconnects for tests."""

    def factory(broker: Mosquitto, **sections: Any) -> GatewayConfig:
        mqtt = {
            "host": "127.0.0.1",
            "port": broker.port,
            "reconnect": {"min_delay_s": 0.05, "max_delay_s": 0.5},
            **sections.pop("mqtt", {}),
        }
        return GatewayConfig.model_validate(
            {"gateway": {"id": gateway_id}, "mqtt": mqtt, **sections}
        )

    return factory


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Return the data dir models, footage and samples are cached under."""
    return default_data_dir()


def _fetch_models(names: tuple[str, ...], data_dir: Path) -> dict[str, Path]:
    """Fetch `names` into `data_dir` (a no-op when cached) or fail/skip saying why."""
    try:
        return catalog.fetch(names, data_dir)
    except ModelError as exc:
        unavailable(f"models {', '.join(names)}", exc)


@pytest.fixture(scope="session", autouse=True)
def _default_run_models(data_dir: Path) -> dict[str, Path]:
    """Fetch what a default gateway camera and a default `cloud serve` load."""
    return _fetch_models(DEFAULT_RUN_MODELS, data_dir)


@pytest.fixture(scope="session")
def model_paths(data_dir: Path) -> dict[str, Path]:
    """Fetch the models the vision tests run and return their paths."""
    return _fetch_models(TEST_MODELS, data_dir)


@pytest.fixture(scope="session")
def vww_path(data_dir: Path) -> Path:
    """Fetch the visual wake words model (cameras, `configs/demo.yaml`); return its path."""
    return _fetch_models((VWW,), data_dir)[VWW]


@pytest.fixture(scope="session")
def oracle_models(data_dir: Path) -> dict[str, Path]:
    """Fetch the person oracle's models."""
    return _fetch_models(ORACLE_MODELS, data_dir)


@pytest.fixture(scope="session")
def judge_models(data_dir: Path) -> dict[str, Path]:
    """Fetch the models `edgegw cloud serve` loads for its default judge."""
    return _fetch_models(JUDGE_MODEL_NAMES, data_dir)


@pytest.fixture(scope="session")
def footage_paths(data_dir: Path) -> dict[str, Path]:
    """Return vtest.avi and messi5.jpg, fetched from Debian's opencv-doc into the data dir."""
    try:
        return footage.fetch_footage(data_dir)
    except footage.FootageError as exc:
        unavailable("vtest.avi / messi5.jpg", exc)


@pytest.fixture(scope="session")
def vtest_path(footage_paths: dict[str, Path]) -> Path:
    """Return vtest.avi."""
    return footage_paths["vtest.avi"]


@pytest.fixture(scope="session")
def images(data_dir: Path) -> dict[str, npt.NDArray[np.uint8]]:
    """Return scikit-image's astronaut, chelsea and coffee as BGR arrays."""
    try:
        return {name: samples.load_sample(name, data_dir) for name in samples.SAMPLES}
    except ModelError as exc:
        unavailable("sample images", exc)


@pytest.fixture(scope="session")
def norfair_python(data_dir: Path) -> Path:
    """The python of norfair's own venv (built on first use: see `lab.norfair_env`)."""
    try:
        return ensure_norfair_python(data_dir)
    except NorfairEnvError as exc:
        unavailable("norfair (PyPI)", exc)


@pytest.fixture(scope="session")
def kserve_python(data_dir: Path) -> Path:
    """The python of KServe's own venv (built on first use: see `tests.support.kserve_env`)."""
    try:
        return ensure_kserve_python(data_dir)
    except KServeEnvError as exc:
        unavailable("kserve (PyPI)", exc)


@pytest.fixture(scope="session")
def kserve(
    kserve_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KServeProcess]:
    """A `kserve.ModelServer` on a free port hosting the test models `judge`, `judge_pixels`."""
    server = KServeProcess(
        kserve_python, free_port(), tmp_path_factory.mktemp("kserve") / "kserve.log"
    )
    try:
        server.start()
    except KServeEnvError as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()
