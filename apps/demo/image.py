"""`report.png`: a grid of annotated snapshots of a few hard cases and settled tracks.

Hard cases come first, a mix of verdicts: the frame on which the track was announced,
its box, the crop the cloud judged as an inset, and a caption with the edge's score and
the cloud's verdict. Settled tracks (scored above the band by the edge alone) fill the
rest. Drawn with OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from apps.demo.recorder import Box, HardCaseRecord, Recorder
from apps.demo.report import DemoReport, comparison_lines, corrections_lines

__all__ = ["comparison_panel", "render_report_image", "write_report_image"]

Image = npt.NDArray[np.uint8]
Colour = tuple[int, int, int]

TILE_W, TILE_H, CAPTION_H, HEADER_H, COLUMNS, MAX_TILES = 384, 288, 46, 116, 4, 8
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_COLOURS: dict[str, Colour] = {  # BGR
    "confirmed": (80, 190, 60),
    "rejected": (60, 60, 230),
    "relabelled": (0, 160, 255),
    "unsure": (0, 200, 200),
    "stands": (0, 200, 200),  # a no the gateway did not apply (disputed, repeated)
    "pending": (150, 150, 150),
    "settled": (230, 160, 50),
}


@dataclass(slots=True, frozen=True)
class _Tile:
    frame: bytes | None
    box: Box | None
    crop: bytes | None
    title: str
    detail: str
    colour: Colour


def _decode(jpeg: bytes) -> Image | None:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return None if image is None else np.asarray(image, dtype=np.uint8)


def _pick_hard_cases(rec: Recorder, n: int) -> list[HardCaseRecord]:
    """Up to `n` hard cases, taking verdicts in turn so each outcome shows."""
    by_outcome: dict[str, list[HardCaseRecord]] = {}
    for case in rec.hard_cases:
        outcome = str(rec.verdicts.get(case.id, {}).get("verdict", "pending"))
        by_outcome.setdefault(outcome, []).append(case)
    kinds = ("rejected", "confirmed", "relabelled", "unsure", "pending")
    order = [by_outcome.get(k, []) for k in kinds]
    mixed = [c for group in zip_longest(*order) for c in group if c is not None]
    return mixed[:n]


def _hard_case_tile(rec: Recorder, case: HardCaseRecord) -> _Tile:
    verdict = rec.verdicts.get(case.id)
    shot = rec.shots.get(case.detection_event or "")
    outcome = str(verdict["verdict"]) if verdict else "pending"
    cloud = (
        f"cloud: {outcome} ({verdict['cloud_label']} {float(verdict['cloud_score']):.2f})"
        if verdict
        else "cloud: no verdict yet"
    )
    if outcome == "rejected" and not rec.retracted_on(case.id):
        outcome, cloud = "stands", f"{cloud}, not applied"
    elif outcome == "confirmed" and rec.retracted_on(case.id):
        # a yes for someone another track reports: the gateway retracted it (`duplicate`)
        outcome, cloud = "rejected", f"{cloud}, another track's: retracted"
    return _Tile(
        frame=shot.frame if shot else None,
        box=shot.box if shot else None,
        crop=case.crop,
        title=f"hard case, track {case.track_id}: edge {case.label} {case.score:.2f}",
        detail=cloud,
        colour=_COLOURS.get(outcome, _COLOURS["pending"]),
    )


def _settled_tiles(rec: Recorder, n: int, skip: set[tuple[str, int]]) -> list[_Tile]:
    """Up to `n` tracks the edge settled alone, spread over the run."""
    settled = [
        shot
        for shot in rec.shots.values()
        if (key := (shot.camera, shot.track_id)) not in skip and rec.decisions.get(key) == "settled"
    ]
    step = max(1, len(settled) // n) if n else 1
    return [
        _Tile(
            frame=shot.frame,
            box=shot.box,
            crop=None,
            title=f"settled at the edge, track {shot.track_id}",
            detail=f"person {shot.score:.2f} when announced; only the event goes up",
            colour=_COLOURS["settled"],
        )
        for shot in settled[::step][:n]
    ]


def _draw_tile(tile: _Tile) -> Image:
    canvas = np.full((TILE_H + CAPTION_H, TILE_W, 3), 32, np.uint8)
    frame = _decode(tile.frame) if tile.frame else None
    box_on_left = False
    if frame is not None:
        h, w = frame.shape[:2]
        scale = min(TILE_W / w, TILE_H / h)
        if tile.box is not None:
            x1, y1, x2, y2 = (round(v) for v in tile.box)
            box_on_left = x1 + x2 < frame.shape[1]
            cv2.rectangle(frame, (x1, y1), (x2, y2), tile.colour, max(2, round(2 / scale)))
        small = cv2.resize(
            frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
        )
        canvas[: small.shape[0], : small.shape[1]] = small
    crop = _decode(tile.crop) if tile.crop else None
    if crop is not None:
        h, w = crop.shape[:2]
        limit = (TILE_H - 8, TILE_W // 3) if frame is not None else (TILE_H - 8, TILE_W - 8)
        scale = min(limit[0] / h, limit[1] / w)
        inset = cv2.resize(crop, (max(1, round(w * scale)), max(1, round(h * scale))))
        ih, iw = inset.shape[:2]
        x0 = TILE_W - iw - 4 if box_on_left else 4
        y0 = 4 if frame is not None else (TILE_H - ih) // 2
        canvas[y0 : y0 + ih, x0 : x0 + iw] = inset
        cv2.rectangle(canvas, (x0 - 2, y0 - 2), (x0 + iw + 1, y0 + ih + 1), tile.colour, 2)
    cv2.rectangle(canvas, (0, TILE_H), (TILE_W - 1, TILE_H + CAPTION_H - 1), tile.colour, -1)
    for i, text in enumerate((tile.title, tile.detail)):
        y = TILE_H + 18 + 20 * i
        cv2.putText(canvas, text, (6, y), _FONT, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


def _header(report: DemoReport, width: int) -> Image:
    header = np.full((HEADER_H, width, 3), 20, np.uint8)
    lines = [f"edgegw demo: {report.duration_s:.0f} s, uplink {report.percent_up:.3f}% of input"]
    for s in report.streams:
        if s.hard_cases is not None:
            h = s.hard_cases
            lines[0] += (
                f" | {s.stream}: {s.bytes_in / 1e6:.1f} MB in, {s.bytes_up / 1e3:.1f} KB up "
                f"({s.percent_up:.3f}%)"
            )
            lines.append(
                f"{s.tracks} tracks, {h.sent} hard cases: {h.confirmed} confirmed, "
                f"{h.rejected} rejected, {h.relabelled} relabelled, {h.unsure} unsure, "
                f"{h.pending} pending"
            )
    lines.extend(corrections_lines(report.corrections))
    for i, text in enumerate(lines):
        cv2.putText(header, text, (10, 24 + 26 * i), _FONT, 0.6, (235, 235, 235), 1, cv2.LINE_AA)
    return header


_MODE_COLOURS: dict[str, Colour] = {  # BGR
    "hybrid": (80, 190, 60),
    "edge_only": (230, 160, 50),
    "all_cloud": (60, 60, 230),
}
_PANEL_LINE_H = 22
_BAR_H = 14


def comparison_panel(report: DemoReport, width: int) -> Image | None:
    """The "hybrid vs all-cloud" panel: its lines, and bars of energy and money per mode."""
    panel = report.hybrid_vs_all_cloud
    if panel is None:
        return None
    lines = comparison_lines(panel)
    bars = [("energy", "total_j"), ("money", "total_cost")]
    height = 12 + _PANEL_LINE_H * len(lines) + len(bars) * (3 * (_BAR_H + 4) + 10) + 8
    canvas = np.full((height, width, 3), 28, np.uint8)
    y = 8
    for i, text in enumerate(lines):
        y = 8 + _PANEL_LINE_H * (i + 1)
        scale = 0.55 if i == 0 else 0.5
        cv2.putText(canvas, text, (10, y), _FONT, scale, (235, 235, 235), 1, cv2.LINE_AA)
    y += 12
    label_w, bar_w = 260, width - 300
    for title, key in bars:
        values = {m: float(e[key]["value"]) for m, e in panel["per_hour"].items()}
        top = max(values.values()) or 1.0
        for mode, value in values.items():
            w = max(1, round(bar_w * value / top))
            unit = panel["per_hour"][mode][key]["unit"]
            text = f"{title} {mode.replace('_', '-')}: {value:.4g} {unit}"
            cv2.putText(canvas, text, (10, y + _BAR_H - 2), _FONT, 0.42, (220, 220, 220), 1)
            cv2.rectangle(canvas, (label_w, y), (label_w + w, y + _BAR_H), _MODE_COLOURS[mode], -1)
            y += _BAR_H + 4
        y += 10
    return canvas


def render_report_image(report: DemoReport, rec: Recorder) -> Image:
    """The report image: a header and up to eight annotated tiles."""
    cases = _pick_hard_cases(rec, MAX_TILES - 3 if len(rec.shots) > 3 else MAX_TILES)
    tiles = [_hard_case_tile(rec, c) for c in cases]
    skip = {(c.camera, c.track_id) for c in cases}
    tiles += _settled_tiles(rec, MAX_TILES - len(tiles), skip)
    width = TILE_W * COLUMNS
    rows = []
    for start in range(0, len(tiles), COLUMNS):
        row = [_draw_tile(t) for t in tiles[start : start + COLUMNS]]
        row += [np.full_like(row[0], 32)] * (COLUMNS - len(row))
        rows.append(np.hstack(row))
    if not rows:
        empty = np.full((TILE_H + CAPTION_H, width, 3), 32, np.uint8)
        text = "no camera events in this run"
        cv2.putText(empty, text, (20, TILE_H // 2), _FONT, 0.8, (200, 200, 200), 1, cv2.LINE_AA)
        rows.append(empty)
    panel = comparison_panel(report, width)
    top = [_header(report, width)] if panel is None else [_header(report, width), panel]
    return np.asarray(np.vstack([*top, *rows]), dtype=np.uint8)


def write_report_image(report: DemoReport, rec: Recorder, path: Path) -> None:
    """Render and write the PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), render_report_image(report, rec)):
        msg = f"cannot write {path}"
        raise OSError(msg)
