"""`lab.playback`: the clip mirrored and reversed, its hand-verified truth moved with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.vision_pipeline import read_video
from gateway.inference.geometry import Box
from lab.evaluation import TrackPath, match_events
from lab.playback import Footage, footage_frames, footage_truth
from lab.truth import vtest_truth


def test_mirrored_and_reversed_footage_carry_their_truth_with_them(vtest_path: Path) -> None:
    """Each played frame shows the person where the changed truth says: the pixels under a
    truth box in the played frame are the pixels under the original box in the original."""
    frames = 40
    original = list(read_video(str(vtest_path), frames))
    width = original[0].shape[1]
    truth = vtest_truth()
    person = next(p for p in truth if 0 in p.boxes and 39 in p.boxes)
    for footage in Footage:
        played = list(footage_frames(iter([f.copy() for f in original]), footage))
        assert len(played) == frames
        moved = {p.id: p for p in footage_truth(truth, footage, frames=frames, width=width)}
        assert all(f < frames for p in moved.values() for f in p.boxes)  # clipped to the run
        assert len(moved[person.id].boxes) == sum(f < frames for f in person.boxes)
        for f in (0, 39):
            shown = moved[person.id]
            g = {Footage.REVERSED: frames - 1 - f}.get(footage, f)
            b = shown.boxes[g]
            cut = played[g][int(b.y1) : int(b.y2), int(b.x1) : int(b.x2)]
            src = person.boxes[f]
            want = original[f][int(src.y1) : int(src.y2), int(src.x1) : int(src.x2)]
            if footage is Footage.MIRRORED:
                want = original[f][int(src.y1) : int(src.y2), width - int(b.x2) : width - int(b.x1)]
                want = want[:, ::-1]
            assert cut.shape == want.shape
            assert np.array_equal(cut, want), footage


def test_changed_truth_keeps_every_person_and_box() -> None:
    truth = vtest_truth()
    for footage in (Footage.MIRRORED, Footage.REVERSED):
        moved = footage_truth(truth, footage, frames=795, width=768)
        assert [len(p.boxes) for p in moved] == [len(p.boxes) for p in truth]
        assert match_events(moved, moved).precision == 1.0


def test_a_mirrored_box_keeps_its_size() -> None:
    path = TrackPath(1, {0: Box(10.0, 20.0, 40.0, 90.0)})
    (out,) = footage_truth([path], Footage.MIRRORED, frames=1, width=100)
    assert out.boxes[0] == Box(60.0, 20.0, 90.0, 90.0)
    (back,) = footage_truth([path], Footage.REVERSED, frames=5, width=100)
    assert back.boxes == {4: path.boxes[0]}
