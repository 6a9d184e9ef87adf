"""The tracker's appearance cue: colour histograms on real frames, and the tracker's use of it.

The first tests describe people of vtest.avi by their hand-verified truth boxes
(lab/truth/vtest); the tracker tests paint walkers in distinct clothes on a plain picture,
so that only their colours tell them apart when their motion does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from gateway.inference.geometry import Box
from gateway.vision.appearance import APPEARANCE_SIZE, describe, distance
from gateway.vision.tracker import ObjectTracker, TrackerConfig
from lab.truth import vtest_truth
from tests.gateway.vision.conftest import read_frames

Image = npt.NDArray[np.uint8]

FPS = 8.0
DT = 1 / FPS


@pytest.fixture(scope="module")
def vtest_frames(vtest_path: Path) -> list[Image]:
    """The first 100 frames of vtest.avi."""
    return [np.asarray(f, np.uint8) for f in read_frames(vtest_path, 100)]


def test_a_person_looks_more_like_themselves_two_seconds_later_than_like_another(
    vtest_frames: list[Image],
) -> None:
    truth = {t.id: t for t in vtest_truth()}
    red_jacket, pale_coat = truth[60], truth[7]  # walking together at the top of the picture
    early, late = 60, 80
    me = describe(vtest_frames[early], red_jacket.boxes[early])
    me_later = describe(vtest_frames[late], red_jacket.boxes[late])
    other_later = describe(vtest_frames[late], pale_coat.boxes[late])
    assert me is not None
    assert me_later is not None
    assert other_later is not None
    assert me.shape == (APPEARANCE_SIZE,)
    assert distance(me, me) == pytest.approx(0.0, abs=1e-6)
    assert distance(me, me_later) < 0.5 * distance(me, other_later)


def test_a_box_too_small_or_outside_the_picture_has_no_appearance(
    vtest_frames: list[Image],
) -> None:
    frame = vtest_frames[0]
    assert describe(frame, Box(100, 100, 104, 140)) is None
    assert describe(frame, Box(800, 100, 840, 180)) is None  # right of a 768 px picture


# ---- the tracker ---------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Det:
    label: str
    score: float
    box: Box
    who: str


@dataclass(slots=True, frozen=True)
class Painted:
    """A walker in clothes of two colours (BGR) who walks to `turn_x` and back."""

    name: str
    x0: float
    vx: float
    turn_t: float
    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]

    def box(self, t: float) -> Box:
        run = min(t, self.turn_t) - max(t - self.turn_t, 0.0)
        x = self.x0 + self.vx * run
        return Box(x, 100, x + 40, 200)

    def paint(self, image: Image, t: float) -> None:
        x1, y1, x2, y2 = self.box(t).to_int()
        image[y1 : (y1 + y2) // 2, x1:x2] = self.shirt
        image[(y1 + y2) // 2 : y2, x1:x2] = self.trousers


def _meet_and_turn_back(config: TrackerConfig) -> dict[int, set[str]]:
    """Two walkers meet behind a post, turn back unseen, and come out where they went in.

    Return, per track id, the walkers it was matched to.
    """
    tracker = ObjectTracker(config)
    red = Painted("red", 100, 64, 1.25, shirt=(30, 30, 200), trousers=(120, 60, 20))
    green = Painted("green", 240, -64, 1.25, shirt=(40, 180, 40), trousers=(40, 200, 220))
    holders: dict[int, set[str]] = {}
    for i in range(40):
        t = i * DT
        image = np.full((300, 400, 3), 128, np.uint8)
        hidden = 8 <= i <= 12  # behind the post while they turn
        dets = [] if hidden else [Det("person", 0.9, w.box(t), w.name) for w in (red, green)]
        for w in (red, green):
            w.paint(image, t)
        update = tracker.update(dets, t, i, image=image)
        owner = {d.box: d.who for d in dets}
        for track in update.started + update.updated:
            holders.setdefault(track.id, set()).add(owner[track.box])
    return holders


def test_without_the_cue_walkers_turning_back_unseen_swap_ids() -> None:
    holders = _meet_and_turn_back(TrackerConfig(min_hits=3, lost_s=1.0))
    assert holders == {1: {"red", "green"}, 2: {"red", "green"}}


def test_the_appearance_cue_keeps_their_ids() -> None:
    cue = {"appearance_weight": 2.0, "appearance_gate": 0.5}
    # The gate refuses the swap, but the predictions are now far from both walkers...
    holders = _meet_and_turn_back(TrackerConfig(min_hits=3, lost_s=1.0, **cue))
    assert holders == {1: {"red"}, 2: {"green"}, 3: {"red"}, 4: {"green"}}
    # ...and re-identification gives each walker back their own id.
    config = TrackerConfig(min_hits=3, lost_s=1.0, reid_s=1.0, reid_reach=2.0, **cue)
    assert _meet_and_turn_back(config) == {1: {"red"}, 2: {"green"}}


def test_a_lost_walker_is_re_identified_by_their_clothes() -> None:
    """Hidden longer than `lost_s`, a walker who comes back looking the same keeps the id."""
    config = TrackerConfig(
        min_hits=3, max_misses=2, lost_s=0.5, reid_s=3.0, appearance_weight=1.0, reid_reach=3.0
    )
    tracker = ObjectTracker(config)
    red = Painted("red", 100, 40, 99.0, shirt=(30, 30, 200), trousers=(120, 60, 20))
    seen: list[int] = []
    for i in range(40):
        t = i * DT
        image = np.full((300, 400, 3), 128, np.uint8)
        red.paint(image, t)
        dets = [] if 10 <= i < 26 else [Det("person", 0.9, red.box(t), "red")]  # 2 s away
        update = tracker.update(dets, t, i, image=image)
        seen += [track.id for track in update.started + update.updated]
    assert set(seen) == {1}
    assert len(seen) == 40 - 16 - 2
