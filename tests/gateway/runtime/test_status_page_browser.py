"""The status page in a real browser: Debian's headless Chromium against a running gateway.

The gateway runs in this loop against the session's Mosquitto; the test publishes sensor
readings and camera frames like devices would, and watches the page (DOM) change:
values, an alert followed into the live feed (its latency is logged), a detection with
its annotated snapshot, detection turned off by a command. The screenshot is checked
for the snapshot's pixels (the tracker's box colour and the walker), not only saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest

from gateway.plugins import build_gateway
from tests.conftest import ConfigFactory
from tests.gateway.vision.camera.test_vp_gateway import at_least
from tests.gateway.vision.camera.test_vp_homeassistant import frame
from tests.support.browser import chromium
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.mqtt import client, running

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

log = logging.getLogger(__name__)

BOX_BGR = (0, 200, 255)
"""The colour the tracker's boxes are drawn in (gateway.vision.analyzer)."""
FEED_JS = """return Array.from(document.querySelectorAll('#feed li')).map(li => ({
  id: li.dataset.id, kind: li.dataset.kind, ts: Number(li.dataset.ts),
  shown: Number(li.dataset.shown), text: li.textContent}));"""


def page_config(make_config: ConfigFactory, broker: Mosquitto, gateway_id: str) -> Any:
    return make_config(
        broker,
        gateway={"id": gateway_id, "name": "Browser test"},
        stats={"http_port": free_port(), "interval_s": 1},
        homeassistant={"discovery": False},
        sensors=[
            {
                "id": "room",
                "name": "Living room",
                "topic": f"dev/{gateway_id}/room",
                "decoder": "json",
                "decoder_options": {"device": "thermo"},
                "metrics": {"temperature": {"unit": "°C"}},
                "window_s": 0.2,
                "rules": [
                    {"id": "too_hot", "type": "threshold", "metric": "temperature", "above": 30}
                ],
            }
        ],
        cameras=[
            {
                "id": "door",
                "source": f"mqtt:cam/{gateway_id}/door",
                "detect_fps": 100,
                "tracker": {"min_hits": 2, "max_misses": 2, "lost_s": 0},
                "events": {"update_interval_s": 0.01},
            }
        ],
    )


async def until(
    driver: WebDriver, script: str, ok: Callable[[Any], object], *, timeout_s: float = 15.0
) -> Any:
    """Run `script` in the page until `ok(result)`; the DOM has no event we can await."""
    async with asyncio.timeout(timeout_s):
        while True:
            value = await asyncio.to_thread(driver.execute_script, script)
            if ok(value):
                return value
            await asyncio.sleep(0.05)


def sensor_value_js(sensor: str, metric: str) -> str:
    return (
        f'const v = document.querySelector(\'[data-sensor="{sensor}"] '
        f'[data-metric="{metric}"] .value\'); return v ? v.textContent : null;'
    )


def box_pixels(image: np.ndarray[Any, np.dtype[np.uint8]], rect: dict[str, float]) -> int:
    """Pixels of the tracker's box colour inside `rect` of the screenshot."""
    x, y = round(rect["x"]), round(rect["y"])
    w, h = round(rect["width"]), round(rect["height"])
    region = image[y : y + h, x : x + w].astype(np.int16)
    close = np.abs(region - np.array(BOX_BGR, np.int16)).max(axis=2) <= 40
    return int(close.sum())


async def test_status_page_shows_the_gateway_live_in_chromium(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str, tmp_path: Path
) -> None:
    cfg = page_config(make_config, mosquitto, gateway_id)
    url = f"http://127.0.0.1:{cfg.stats.http_port}/"
    stack = contextlib.ExitStack()
    gw = build_gateway(cfg)
    async with running(gw), client(mosquitto) as c:
        assert gw.http is not None
        async with asyncio.timeout(10):
            await gw.http.ready.wait()
        driver = await asyncio.to_thread(stack.enter_context, chromium())
        try:
            await asyncio.to_thread(driver.get, url)
            await until(
                driver,
                "return document.getElementById('live').textContent",
                lambda v: v == "live",
            )
            title = await asyncio.to_thread(driver.execute_script, "return document.title")
            assert title == "edgegw · Browser test"

            # Values change as readings arrive.
            room = f"dev/{gateway_id}/room"
            value_js = sensor_value_js("room", "temperature")
            await c.publish(room, json.dumps({"temperature": 21.5}), qos=1)
            await until(driver, value_js, lambda v: v == "21.5 °C")
            await c.publish(room, json.dumps({"temperature": 24.25}), qos=1)
            await until(driver, value_js, lambda v: v == "24.25 °C")

            # An alert, followed into the live feed; its latency is measured in the page.
            published = time.time()
            await c.publish(room, json.dumps({"temperature": 35.5}), qos=1)
            feed = await until(
                driver, FEED_JS, lambda f: any(e["kind"] == "sensor.alert" for e in f)
            )
            alert = next(e for e in feed if e["kind"] == "sensor.alert")
            assert "too_hot" in alert["text"]
            assert "35.5" in alert["text"]
            from_publish = alert["shown"] / 1000 - published
            from_event = alert["shown"] / 1000 - alert["ts"]
            log.warning(
                "status page latency: alert shown %.1f ms after the reading was published, "
                "%.1f ms after the gateway emitted it",
                from_publish * 1000,
                from_event * 1000,
            )
            assert from_publish < 1.0, f"feed latency {from_publish:.3f}s"
            await until(
                driver,
                "return Array.from(document.querySelectorAll('[data-sensor=\"room\"] .rule'))"
                ".map(r => r.textContent)",
                lambda rules: rules == ["too_hot: alert"],
            )

            # A camera: someone walks through; the detection reaches the feed and the
            # annotated snapshot reaches the page.
            topic = f"cam/{gateway_id}/door"
            steps = [None] * 5 + list(range(40, 250, 8))
            for i, x in enumerate(steps):
                await c.publish(topic, frame(x), qos=1)
                await until_metric(gw, "camera_frames_decoded_total", "door", i + 1)
            await until(
                driver,
                FEED_JS,
                lambda f: any(
                    e["kind"] == "vision.detection" and "door" in e["text"] and "start" in e["text"]
                    for e in f
                ),
            )
            await until(
                driver,
                "const i = document.querySelector('[data-camera=\"door\"] img.snap');"
                "return i && i.complete ? i.naturalWidth : 0;",
                lambda width: width == 320,
            )
            tracks = await until(
                driver,
                "return document.querySelector('[data-camera=\"door\"] .cam-active').textContent",
                lambda v: v == "1",
            )
            assert tracks == "1"

            # A command turns detection off; the page shows it.
            await c.publish(
                f"{cfg.topic_prefix}/cmd/camera/door/detect", b'{"detect": false}', qos=1
            )
            await until(
                driver,
                "return document.querySelector('[data-camera=\"door\"] .cam-detect').textContent",
                lambda v: v == "off",
            )

            # Everything the page loaded came from the gateway itself (no CDN).
            origins = await asyncio.to_thread(
                driver.execute_script,
                "return performance.getEntriesByType('resource').map(r => r.name)",
            )
            assert origins
            assert all(o.startswith(url) for o in origins), origins

            # The screenshot shows the snapshot: the box colour and the light walker.
            rect = await asyncio.to_thread(
                driver.execute_script,
                "const i = document.querySelector('[data-camera=\"door\"] img.snap');"
                "i.scrollIntoView(); const r = i.getBoundingClientRect();"
                "return {x: r.x, y: r.y, width: r.width, height: r.height};",
            )
            shot = tmp_path / "status-page.png"
            assert await asyncio.to_thread(driver.save_screenshot, str(shot))
            read = cv2.imread(str(shot))
            assert read is not None
            image = np.asarray(read, dtype=np.uint8)
            inside = box_pixels(image, rect)
            assert inside > 100, f"{inside} box-coloured pixels in the snapshot"
            assert box_pixels(image, {"x": 0, "y": 0, "width": 40, "height": 40}) == 0
            x, y, w, h = (round(rect[k]) for k in ("x", "y", "width", "height"))
            walker = (image[y : y + h, x : x + w].min(axis=2) >= 225).sum()
            assert walker > 500, f"{walker} light pixels (the walker) in the snapshot"
            log.warning("status page screenshot: %s", shot)
            if target := os.environ.get("EDGEGW_SCREENSHOT"):
                await asyncio.to_thread(driver.execute_script, "window.scrollTo(0, 0)")
                await asyncio.to_thread(driver.save_screenshot, target)
                shutil.copy(shot, Path(target).with_suffix(".snapshot.png"))
        finally:
            await asyncio.to_thread(stack.close)


async def until_metric(gw: Any, name: str, label: str, at_least_n: int) -> None:
    """Wait until the gateway's counter `name{label}` reached `at_least_n`."""
    check = at_least(gw, name, label, at_least_n)
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - a counter has no event to await
            await asyncio.sleep(0.01)


pytestmark = pytest.mark.timeout(180)
