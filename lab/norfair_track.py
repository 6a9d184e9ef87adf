"""Track recorded detections with norfair, in norfair's own venv (`lab.norfair_env`).

Run as a script by that venv's python, never imported by the project (norfair pins
numpy < 2, which the project's venv cannot share)::

    <venv>/bin/python lab/norfair_track.py < request.json > tracks.json

The request is one JSON object: `settings` (`distance`: "bottom" or "iou",
`distance_threshold`, `initialization_delay`, `hit_counter_max`, optionally
`median_threshold`) and `frames`, a list of
`{"index": i, "boxes": [[x1, y1, x2, y2, score], ...]}` in time order. The answer maps
each reported track id to `{frame index: [x1, y1, x2, y2]}`: the box of the detection it
was matched with on that frame, recorded only once norfair reports the track (past its
initialization delay), so a track that coasts keeps no box there, as edgegw's own
`TrackRecorder` does.

`bottom` is the distance Frigate gives norfair, in the same spirit: the shift of the box's
bottom centre over the predicted box's width and height, and how far the widths and the
heights differ (as a ratio minus one), as one Euclidean length. `iou` is norfair's
built-in 1 - IoU of the two boxes.

With `median_threshold` above 0, a track is reported only from the frame on which the
median of its last 10 matched scores first reaches it (Frigate's rule for a true
positive: `objects.filters.threshold`, 0.7 by default); before that it is tracked but not
recorded.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

_SCORE_HISTORY = 10
"""Matched scores whose median makes a track a true positive (`median_threshold`)."""


def bottom_distance(detection: Any, tracked: Any) -> float:
    """Bottom-centre shift relative to the estimate's size, and the size ratios."""
    det = np.asarray(detection.points, dtype=float)
    est = np.asarray(tracked.estimate, dtype=float)
    det_w, det_h = det[1] - det[0]
    est_w, est_h = est[1] - est[0]
    if min(det_w, det_h, est_w, est_h) <= 0:
        return float("inf")
    dx = (det[:, 0].mean() - est[:, 0].mean()) / est_w
    dy = (det[:, 1].max() - est[:, 1].max()) / est_h
    width = max(det_w, est_w) / min(det_w, est_w) - 1.0
    height = max(det_h, est_h) / min(det_h, est_h) - 1.0
    return float(np.linalg.norm([dx, dy, width, height]))


def track(request: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Run norfair over the request's frames; return each reported track's boxes."""
    # Imported here: only norfair's venv has it (the project imports this module in its
    # architecture test, never runs it).
    from norfair import Detection, Tracker  # type: ignore[import-not-found,unused-ignore]

    settings = request["settings"]
    distance = bottom_distance if settings["distance"] == "bottom" else "iou"
    tracker = Tracker(
        distance_function=distance,
        distance_threshold=float(settings["distance_threshold"]),
        initialization_delay=int(settings["initialization_delay"]),
        hit_counter_max=int(settings["hit_counter_max"]),
    )
    sure = float(settings.get("median_threshold", 0.0))
    history: dict[int, list[float]] = {}
    confirmed: set[int] = set()
    out: dict[str, dict[str, list[float]]] = {}
    for frame in request["frames"]:
        index = int(frame["index"])
        detections = [
            Detection(
                points=np.array([[x1, y1], [x2, y2]], dtype=float),
                scores=np.array([score, score], dtype=float),
                data=index,
            )
            for x1, y1, x2, y2, score in frame["boxes"]
        ]
        for obj in tracker.update(detections=detections):
            last = obj.last_detection
            if last is None or last.data != index:
                continue  # not matched on this frame: coasting
            scores = history.setdefault(obj.id, [])
            scores.append(float(np.asarray(last.scores).mean()))
            if float(np.median(scores[-_SCORE_HISTORY:])) >= sure:
                confirmed.add(obj.id)
            if obj.id not in confirmed:
                continue  # not yet a true positive (Frigate's median score rule)
            (x1, y1), (x2, y2) = np.asarray(last.points, dtype=float)
            out.setdefault(str(obj.id), {})[str(index)] = [x1, y1, x2, y2]
    return out


def main() -> int:
    """Read a request on stdin, write the tracks on stdout."""
    json.dump(track(json.load(sys.stdin)), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
