"""Edge vs cloud on real footage: all-cloud baseline, edge only, and the hybrid cascade.

    python -m bench.hybrid [--clip PATH] [--frames N] [--fps 10] [--quality 80]

- All-cloud: every frame at `--fps` as a JPEG at `--quality` is what an all-cloud design
  uploads; the cloud model on every frame is the oracle (`refcloud.oracle`), so
  its accuracy is 1 by definition.
- Edge only: the camera pipeline (`FrameAnalyzer`: motion, the edge model on blobs, the
  tracker) with the shipped config; every track not dropped by the band is reported.
- Hybrid: the same pipeline (the same config unless a flag varies it); each track ending
  in the band `[low, high)` sends its best crop to the cloud model through the Open
  Inference Protocol client, against the reference server started in-process on
  loopback hosting `OracleJudge`. Rejected tracks are dropped, confirmed ones kept; a
  confirmed one whose verdict found several people becomes one track per person, each
  box from the cloud's answer placed inside the track's box (`gateway.vision.groups`).
  `--group-aspect` also escalates settled tracks whose best box is group-shaped.
  Uplink: the JPEG crops plus one compact JSON event per reported track.

The edge runs once; the band is swept afterwards (each track's verdict is asked once).
Accuracy follows `lab.evaluation`. The last stdout line is the JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2

from bench.hybrid_edge import SHIPPED, EdgeRun, EdgeSettings, EndedTrack, kept_by_edge, run_edge
from bench.hybrid_report import BandRow, ModeRow, draw_band_plot, mode_row, print_table
from cloud_bridge.oip import OipClient, build_hard_case_request
from cloud_bridge.uplink.hard_cases import HardCase, Outcome, Verdict, verdict_from_response
from devices.cameras import encode_jpeg
from gateway.vision.cascade import Band, Decision
from gateway.vision.groups import place_people
from lab.evaluation import TrackPath
from lab.footage import fetch_vtest
from lab.oracle_store import (
    oracle_detections,
    oracle_tracks,
    read_frames,
)
from refcloud import EventSink, serve
from refcloud.oracle import PersonOracle
from refcloud.oracle_judge import OracleJudge

SHIPPED_BAND = Band(0.5, 0.99)  # configs/gateway.example.yaml (escalation defaults)
GROUP_ASPECT = 0.6  # swept: group-shaped settled tracks escalate too
DEFAULT_BAND = SHIPPED_BAND
SWEEP_LOWS = (0.5, 0.8)  # plus the run's own min score
SWEEP_HIGHS = (0.9, 0.99, 0.995, 0.999, 1.01)  # 1.01: every track is a hard case
RESULTS = Path(__file__).parent / "results"
VERDICT_MIN_SCORE = 0.5
_PEOPLE_IDS = 10_000_000  # ids of the per-person tracks made from a group's verdict


async def judge_tracks(tracks: list[EndedTrack], judge: OracleJudge) -> dict[int, Verdict]:
    """Send each crop to the cloud model through OIP on a loopback server; return verdicts."""
    loop = asyncio.get_running_loop()
    port: asyncio.Future[int] = loop.create_future()
    verdicts: dict[int, Verdict] = {}
    with EventSink(":memory:") as sink:
        server = asyncio.create_task(
            serve(
                "127.0.0.1",
                0,
                models={judge.name: judge},
                sink=sink,
                no_auth=True,  # loopback, this process only
                on_started=port.set_result,
            ),
            name="cloud-server",
        )
        try:
            async with asyncio.timeout(30):
                bound = await port
            async with OipClient(f"http://127.0.0.1:{bound}", timeout=60) as oip:
                for item in tracks:
                    assert item.crop is not None  # only tracks with a crop are judged
                    t = item.track
                    case = HardCase(f"track-{t.id}", "bench", t.label, t.best_score, 0.75, {})
                    request = build_hard_case_request(
                        item.crop, hard_case_id=case.id, label=t.label, score=t.best_score
                    )
                    t0 = time.perf_counter()
                    response = await oip.infer(judge.name, request)
                    ms = (time.perf_counter() - t0) * 1000
                    verdict = verdict_from_response(
                        case, response, min_score=VERDICT_MIN_SCORE, round_trip_ms=ms
                    )
                    verdicts[t.id] = verdict
        finally:
            server.cancel()
            await asyncio.gather(server, return_exceptions=True)
    return verdicts


def band_rows(
    sweep: Sequence[Band],
    edge: EdgeRun,
    *,
    oracle: list[TrackPath],
    frames: list[int],
    verdicts: dict[int, Verdict],
    all_cloud_bytes: int,
) -> list[BandRow]:
    """Score the hybrid at every swept band (and edge only at the same `low`)."""
    paths = {p.id: p for p in edge.paths}
    rows = []
    for band in sweep:
        reported: list[TrackPath] = []
        uplink = calls = rejected = 0
        for item in edge.ended:
            decision = band.decide_track(item.track)
            path = paths.get(item.track.id)
            if decision is Decision.DROPPED:
                continue
            uplink += item.event_bytes
            if decision is Decision.HARD_CASE and item.crop is not None:
                calls += 1
                uplink += len(item.crop)
                verdict = verdicts.get(item.track.id)
                if verdict is None or verdict.outcome is not Outcome.CONFIRMED:
                    rejected += 1
                    continue
                if path is not None and item.crop_box is not None and len(verdict.people) > 1:
                    reported += people_paths(path, item, verdict)
                    continue
            if path is not None:
                reported.append(path)
        name = f"hybrid {band.low}-{band.high}" + (
            f" g{band.group_aspect}" if band.group_aspect else ""
        )
        row = mode_row(name, reported, oracle, frames)
        rows.append(BandRow(band, row, uplink, uplink / all_cloud_bytes, calls, rejected))
    return rows


def people_paths(path: TrackPath, item: EndedTrack, verdict: Verdict) -> list[TrackPath]:
    """Return one track per person the cloud found in a group's crop (`gateway.vision.groups`)."""
    assert item.crop_box is not None
    places = place_people(item.track.best_box, item.crop_box, verdict.people)
    return [
        TrackPath(
            _PEOPLE_IDS + item.track.id * 100 + k, {f: p.within(b) for f, b in path.boxes.items()}
        )
        for k, p in enumerate(places)
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(prog="python -m bench.hybrid", description=__doc__.split("\n")[0])
    p.add_argument("--clip", type=Path, help="video file (default: vtest.avi, fetched once)")
    p.add_argument("--frames", type=int, help="only the first N source frames")
    p.add_argument("--fps", type=float, default=10.0, help="detect fps (default 10)")
    p.add_argument("--quality", type=int, default=80, help="all-cloud JPEG quality (default 80)")
    p.add_argument(
        "--motion", choices=("average", "mog2"), default="average", help="hybrid: motion method"
    )
    p.add_argument("--min-score", type=float, default=0.5, help="hybrid: tracker/model min score")
    p.add_argument("--no-split", action="store_true", help="hybrid: motion without `split_wide`")
    p.add_argument(
        "--lost",
        type=float,
        default=SHIPPED.lost_s,
        help=f"hybrid: tracker lost_s (default {SHIPPED.lost_s})",
    )
    p.add_argument(
        "--lenient-tracker", action="store_true", help="hybrid: the oracle's tracker settings"
    )
    p.add_argument("--band", type=float, nargs=2, metavar=("LOW", "HIGH"), help="default band")
    p.add_argument(
        "--group-aspect", type=float, default=0.0, help="escalate boxes this wide (0: off)"
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table and the JSON summary line."""
    args = parse_args(argv)
    started = time.perf_counter()
    clip = args.clip if args.clip is not None else fetch_vtest()
    cap = cv2.VideoCapture(str(clip))
    src_fps = cap.get(cv2.CAP_PROP_FPS) or args.fps
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    if count <= 0:
        print(f"error: cannot read frames from {clip}", file=sys.stderr)
        return 2
    step = max(1, round(src_fps / args.fps))
    last = count if args.frames is None else min(count, args.frames)
    indices = list(range(0, last, step))
    fps = src_fps / step
    all_cloud_bytes = sum(
        len(encode_jpeg(f.image, args.quality)) for f in read_frames(clip, indices)
    )

    def say(n: int, total: int) -> None:
        if n % 50 == 0 or n == total:
            print(f"oracle: {n}/{total} frames", file=sys.stderr, flush=True)

    run = oracle_detections(clip, indices, progress=say)
    oracle = oracle_tracks(run.detections, fps=fps)
    hybrid_settings = EdgeSettings(
        args.motion,
        args.min_score,
        not args.no_split,
        args.lost,
        args.lenient_tracker,
    )
    edge_only = run_edge(clip, indices, src_fps, SHIPPED)
    edge = (
        edge_only
        if hybrid_settings == SHIPPED
        else run_edge(clip, indices, src_fps, hybrid_settings)
    )
    low, high = args.band if args.band else (DEFAULT_BAND.low, DEFAULT_BAND.high)
    default_band = Band(low, high, args.group_aspect)
    lows = sorted({args.min_score, *SWEEP_LOWS})
    sweep = [Band(lo, hi, args.group_aspect) for lo in lows for hi in SWEEP_HIGHS if lo < hi]
    extra = [Band(low, high), Band(low, high, args.group_aspect or GROUP_ASPECT)]
    sweep = list(dict.fromkeys([*sweep, default_band, *extra]))
    ask = [
        e
        for e in edge.ended
        if e.crop is not None and any(b.decide_track(e.track) is Decision.HARD_CASE for b in sweep)
    ]
    judge = OracleJudge(PersonOracle())
    verdicts = asyncio.run(judge_tracks(ask, judge))
    bands = band_rows(
        sweep,
        edge,
        oracle=oracle,
        frames=indices,
        verdicts=verdicts,
        all_cloud_bytes=all_cloud_bytes,
    )
    default = next(b for b in bands if b.band == default_band)
    edge_row = mode_row("edge only", kept_by_edge(edge_only, SHIPPED_BAND), oracle, indices)
    cloud_row = mode_row("all-cloud", oracle, oracle, indices)
    modes = [
        ModeRow(cloud_row, all_cloud_bytes, 1.0, len(indices), None),
        ModeRow(edge_row, 0, 0.0, 0, edge_only.cpu_s),
        ModeRow(
            default.row, default.uplink_bytes, default.uplink_ratio, default.cloud_calls, edge.cpu_s
        ),
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    draw_band_plot(bands, default_band, edge_row.events.recall, args.out / "hybrid_band.png")
    elapsed = time.perf_counter() - started
    summary = {
        "uplink_ratio": round(default.uplink_ratio, 6),
        "event_recall": round(default.row.events.recall, 4),
        "event_precision": round(default.row.events.precision, 4),
        "frame_f1": round(default.row.presence.f1, 4),
        "cloud_calls": default.cloud_calls,
        "edge_only_event_recall": round(edge_row.events.recall, 4),
    }
    print_table(modes, bands, oracle_tracks=len(oracle), frames=len(indices))
    report = {
        "command": "python -m bench.hybrid " + " ".join(sys.argv[1:] if argv is None else argv),
        "clip": str(clip),
        "frames": len(indices),
        "fps": fps,
        "quality": args.quality,
        "oracle": {"tracks": len(oracle), "cache": str(run.cache_path), "computed": run.computed},
        "modes": [m.to_json() for m in modes],
        "bands": [b.to_json() for b in bands],
        "default_band": [default_band.low, default_band.high],
        "group_aspect": default_band.group_aspect,
        "hybrid_edge": {
            "motion": args.motion,
            "min_score": args.min_score,
            "split_wide": not args.no_split,
            "lost_s": args.lost,
            "lenient_tracker": args.lenient_tracker,
        },
        "runtime_s": round(elapsed, 1),
        "summary": summary,
    }
    (args.out / "hybrid.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"runtime {elapsed:.0f}s; wrote {args.out / 'hybrid.json'} and hybrid_band.png")
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
