"""Cameras in a running Gateway on a real Mosquitto: vtest.avi end to end, and bad input."""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from gateway.errors import ModelNotFoundError
from gateway.inference.catalog import DATA_DIR_ENV
from gateway.plugins import build_gateway
from gateway.runtime import Gateway
from tests.conftest import ConfigFactory
from tests.gateway.vision.camera.conftest import VWW, jpeg_of
from tests.support.bombs import jpeg_bomb, truncated_jpeg
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.mqtt import client, next_message, running
from tests.support.waits import eventually


def metric(gw: Gateway, name: str, key: str) -> float:
    value = gw.stats.snapshot().get(name, {})
    assert isinstance(value, dict)
    return value.get(key, 0.0)


def at_least(gw: Gateway, name: str, key: str, n: float) -> Callable[[], bool]:
    return lambda: metric(gw, name, key) >= n


def person_camera(cam: str, topic: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": cam,
        "source": f"mqtt:{topic}",
        "model": "person",
        "detect_fps": 100,
        "tracker": {"labels": ["person"], "min_hits": 2, "min_score": 0.5},
        **extra,
    }


PERSON_MODEL = {"id": "person", "name": VWW, "score_threshold": 0.5, "num_threads": 1}


async def test_vtest_frames_over_mqtt_give_detections_and_a_retained_snapshot(
    mosquitto: Mosquitto, make_config: ConfigFactory, vww_path: Path, vtest_jpegs: list[bytes]
) -> None:
    del vww_path  # fetched and cached
    # A band up to 1.0 makes nearly every person track a hard case; short tracks end soon.
    camera = person_camera("walk", "cam/walk/jpeg", escalation={"low": 0.5, "high": 1.0})
    camera["tracker"]["max_misses"] = 2
    camera["tracker"]["lost_s"] = 0.0  # no waiting for a lost track to come back
    cfg = make_config(mosquitto, cameras=[camera], models=[PERSON_MODEL])
    prefix = cfg.topic_prefix
    async with running(build_gateway(cfg)) as gw, client(mosquitto) as c:
        await c.subscribe(f"{prefix}/events/+/walk", qos=1)
        await eventually(lambda: metric(gw, "camera_ready", "walk") == 1)
        for i, jpeg in enumerate(vtest_jpegs):
            await c.publish("cam/walk/jpeg", jpeg, qos=1)
            # Lockstep: each frame processed before the next, so none is skipped.
            await eventually(at_least(gw, "camera_frames_decoded_total", "walk", i + 1))
        found: dict[str, dict[str, Any]] = {}
        hard_tracks: list[int] = []
        while len(found) < 2:
            event = json.loads((await next_message(c)).payload)
            found.setdefault(event["kind"], event)
            if event["kind"] == "vision.hard_case":
                hard_tracks.append(event["data"]["track_id"])
        start = found["vision.detection"]
        assert start["source"] == "walk"
        assert start["data"]["phase"] == "start"
        assert start["data"]["label"] == "person"
        assert start["data"]["best_score"] >= 0.5
        hard = found["vision.hard_case"]
        assert hard["priority"] == 2
        assert hard["media_type"] == "image/jpeg"
        assert 0.5 <= hard["data"]["score"] < 1.0
        assert hard["data"]["media_bytes"] > 0
        async with client(mosquitto) as late:  # a dashboard that connects later
            await late.subscribe(f"{prefix}/cameras/walk/snapshot", qos=1)
            snap = await next_message(late)
        assert snap.retain
        assert bytes(snap.payload)[:2] == b"\xff\xd8"
        stats = gw.stats.snapshot()
        assert metric(gw, "camera_frames_skipped_total", "walk") == 0
        assert metric(gw, "camera_detector_calls_total", "walk") > 0
        assert metric(gw, "camera_tracks_total", "walk") >= 1
        assert metric(gw, "camera_hard_cases_total", "walk") >= 1
        assert "walk" in stats["camera_inference_ms_p95"]  # type: ignore[operator]


async def test_bad_payloads_are_counted_and_other_cameras_go_on(
    mosquitto: Mosquitto, make_config: ConfigFactory
) -> None:
    cameras = [
        {"id": "bad", "source": "mqtt:cam/bad", "motion": {"enabled": False}},
        {"id": "good", "source": "mqtt:cam/good", "motion": {"enabled": False}},
    ]
    cfg = make_config(mosquitto, cameras=cameras)
    good = jpeg_of(64, 48)
    payloads = {"empty": b"", "truncated": good[:120], "corrupt": b"\xff\xd8junk\xff\xd9"}
    async with running(build_gateway(cfg)) as gw, client(mosquitto) as c:
        await eventually(lambda: metric(gw, "camera_ready", "good") == 1)
        for reason, payload in payloads.items():
            await c.publish("cam/bad", payload, qos=1)
            await eventually(at_least(gw, "camera_frames_corrupt_total", f"bad,{reason}", 1))
        await c.publish("cam/bad", jpeg_of(320, 240), qos=1)  # another size mid-stream
        await eventually(lambda: metric(gw, "camera_frames_decoded_total", "bad") == 1)
        await c.publish("cam/bad", good, qos=1)
        await eventually(lambda: metric(gw, "camera_frames_decoded_total", "bad") == 2)
        await c.publish("cam/good", good, qos=1)
        await eventually(lambda: metric(gw, "camera_frames_decoded_total", "good") == 1)
        assert gw.supervisor is not None
        assert not gw.supervisor.failing


async def test_unusable_models_and_sources_retry_without_stopping_others(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    vww_path: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    not_tflite = tmp_path / "not_a_model.tflite"
    not_tflite.write_bytes(b"this is text, not a FlatBuffer" * 10)
    fast = {"reconnect": {"min_delay_s": 0.05, "max_delay_s": 0.2, "open_timeout_s": 2}}
    models = [
        {"id": "text", "path": str(not_tflite), "decoder": "classifier"},
        {"id": "misfit", "path": str(vww_path), "decoder": "mediapipe_ssd"},
        PERSON_MODEL,
    ]
    cameras = [
        {"id": "m1", "source": "mqtt:cam/m1", "model": "text", **fast},
        {"id": "m2", "source": "mqtt:cam/m2", "model": "misfit", **fast},
        {"id": "nofile", "source": str(tmp_path / "missing.avi"), **fast},
        {"id": "rtsp", "source": f"rtsp://127.0.0.1:{free_port()}/x", **fast},
        person_camera("ok", "cam/ok"),
    ]
    cfg = make_config(mosquitto, cameras=cameras, models=models)
    async with running(build_gateway(cfg)) as gw, client(mosquitto) as c:
        for cam in ("m1", "m2"):  # counted, and retried
            await eventually(at_least(gw, "camera_errors_total", f"{cam},model", 2))
        for cam in ("nofile", "rtsp"):
            await eventually(at_least(gw, "camera_errors_total", f"{cam},source", 2))
        await c.publish("cam/ok", jpeg_of(96, 96), qos=1)
        await eventually(lambda: metric(gw, "camera_frames_decoded_total", "ok") == 1)
    text = caplog.text
    assert "is not a TFLite model" in text
    assert "mediapipe_ssd" in text
    assert "misfit" in text
    assert "missing.avi does not exist" in text
    assert "OpenCV cannot open rtsp://127.0.0.1" in text


async def test_a_missing_model_stops_startup_with_the_fetch_command(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))  # an empty model store
    cfg = make_config(mosquitto, cameras=[person_camera("c", "cam/c")], models=[PERSON_MODEL])
    with pytest.raises(ModelNotFoundError, match=f"edgegw models fetch {VWW}"):
        async with running(build_gateway(cfg)):
            pass


async def test_an_image_bomb_on_a_camera_topic_is_counted_and_the_camera_stays_seeing(
    mosquitto: Mosquitto, make_config: ConfigFactory
) -> None:
    """The issue's 629-byte "30000x30000" JPEG: refused from its header, not decoded."""
    cfg = make_config(mosquitto, cameras=[{"id": "cam", "source": "mqtt:cam/in"}])
    good = vtest_like_jpeg()
    async with running(build_gateway(cfg)) as gw, client(mosquitto) as c:
        await eventually(lambda: metric(gw, "camera_ready", "cam") == 1)
        before_mb = peak_rss_mb()
        for reason, payload in (
            ("too_many_pixels", jpeg_bomb()),
            ("truncated", truncated_jpeg(good)),
        ):
            t0 = time.monotonic()
            await c.publish("cam/in", payload, qos=1)
            await eventually(at_least(gw, "camera_frames_corrupt_total", f"cam,{reason}", 1))
            decoded = metric(gw, "camera_frames_decoded_total", "cam")
            await c.publish("cam/in", good, qos=1)  # the camera is not blind
            await eventually(at_least(gw, "camera_frames_decoded_total", "cam", decoded + 1))
            assert time.monotonic() - t0 < 5.0  # unguarded, the bomb alone took ~27 s
        assert peak_rss_mb() - before_mb < 200  # unguarded: +2.7 GB
        assert gw.supervisor is not None
        assert not gw.supervisor.failing


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vtest_like_jpeg() -> bytes:
    """A 320x240 JPEG with detail in it (a flat one says little about decoding)."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return bytes(buf)
